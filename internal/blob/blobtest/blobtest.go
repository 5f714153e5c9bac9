// Package blobtest is the conformance suite every blob.Store passes (disk,
// and S3-compatible services: an in-process fake and real servers), and
// starts those real servers for tests (Servers). Only tests import it.
package blobtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"slices"
	"testing"

	"vigil/internal/blob"
)

// Run runs the suite against the stores newStore returns, one per subtest,
// each empty.
func Run(t *testing.T, newStore func(t *testing.T) blob.Store) {
	for _, c := range []struct {
		name string
		f    func(t *testing.T, s blob.Store)
	}{
		{"PutGet", putGet},
		{"Ranges", ranges},
		{"Missing", missing},
		{"Replace", replace},
		{"StreamUnknownSize", streamUnknownSize},
		{"FailedPutKeepsOld", failedPutKeepsOld},
		{"List", list},
		{"Delete", deleteObject},
		{"BadKeys", badKeys},
	} {
		t.Run(c.name, func(t *testing.T) { c.f(t, newStore(t)) })
	}
}

func random(t *testing.T, n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func put(t *testing.T, s blob.Store, key string, data []byte) {
	t.Helper()
	if err := s.Put(context.Background(), key, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("Put(%s): %v", key, err)
	}
}

func get(t *testing.T, s blob.Store, key string, off, n int64) ([]byte, error) {
	t.Helper()
	rc, err := s.Get(context.Background(), key, off, n)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func putGet(t *testing.T, s blob.Store) {
	data := random(t, 100_000)
	put(t, s, "cams/a/main/1.seg", data)
	got, err := get(t, s, "cams/a/main/1.seg", 0, -1)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get whole = %d bytes, %v; want the %d bytes put", len(got), err, len(data))
	}
	fi, err := s.Stat(context.Background(), "cams/a/main/1.seg")
	if err != nil || fi.Size != int64(len(data)) || fi.Key != "cams/a/main/1.seg" {
		t.Fatalf("Stat = %+v, %v; want size %d", fi, err, len(data))
	}
	put(t, s, "cams/a/main/empty", nil)
	if got, err := get(t, s, "cams/a/main/empty", 0, -1); err != nil || len(got) != 0 {
		t.Fatalf("Get of an empty object = %d bytes, %v", len(got), err)
	}
}

func ranges(t *testing.T, s blob.Store) {
	data := random(t, 70_000)
	put(t, s, "r/obj", data)
	for _, c := range []struct {
		off, n int64
		want   []byte
	}{
		{0, 1, data[:1]},
		{12_345, 30_000, data[12_345:42_345]},
		{69_999, 1, data[69_999:]},
		{60_000, 50_000, data[60_000:]}, // runs past the end: cut short
		{65_536, -1, data[65_536:]},
	} {
		got, err := get(t, s, "r/obj", c.off, c.n)
		if err != nil || !bytes.Equal(got, c.want) {
			t.Errorf("Get(off %d, n %d) = %d bytes, %v; want %d exact bytes", c.off, c.n, len(got), err, len(c.want))
		}
	}
	for _, off := range []int64{70_000, 80_000} {
		if _, err := get(t, s, "r/obj", off, 10); !errors.Is(err, blob.ErrRange) {
			t.Errorf("Get(off %d) past the end: %v, want ErrRange", off, err)
		}
	}
}

func missing(t *testing.T, s blob.Store) {
	if _, err := get(t, s, "no/such", 0, -1); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Get of a missing object: %v, want ErrNotFound", err)
	}
	if _, err := get(t, s, "no/such", 10, 10); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("ranged Get of a missing object: %v, want ErrNotFound", err)
	}
	if _, err := s.Stat(context.Background(), "no/such"); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Stat of a missing object: %v, want ErrNotFound", err)
	}
}

func replace(t *testing.T, s blob.Store) {
	put(t, s, "x/y", random(t, 5000))
	data := random(t, 3000)
	put(t, s, "x/y", data)
	if got, err := get(t, s, "x/y", 0, -1); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("after a replace, Get = %d bytes, %v; want the new %d", len(got), err, len(data))
	}
}

// streamUnknownSize puts more than S3's 5 MiB part size with size -1.
func streamUnknownSize(t *testing.T, s blob.Store) {
	data := random(t, 6<<20+123)
	r := io.MultiReader(bytes.NewReader(data[:1<<20]), bytes.NewReader(data[1<<20:]))
	if err := s.Put(context.Background(), "big/one", r, -1); err != nil {
		t.Fatalf("Put of unknown size: %v", err)
	}
	got, err := get(t, s, "big/one", 5<<20-10, 20)
	if err != nil || !bytes.Equal(got, data[5<<20-10:5<<20+10]) {
		t.Fatalf("Get across the part boundary = %x, %v", got, err)
	}
	if fi, err := s.Stat(context.Background(), "big/one"); err != nil || fi.Size != int64(len(data)) {
		t.Fatalf("Stat = %+v, %v; want %d bytes", fi, err, len(data))
	}
}

type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("camera went away")
	}
	n := min(len(p), f.n)
	f.n -= n
	return n, nil
}

// failedPutKeepsOld: a put whose reader fails leaves the old object whole.
func failedPutKeepsOld(t *testing.T, s blob.Store) {
	old := random(t, 1000)
	put(t, s, "k/v", old)
	if err := s.Put(context.Background(), "k/v", &failingReader{n: 500}, -1); err == nil {
		t.Fatal("Put from a failing reader succeeded")
	}
	if err := s.Put(context.Background(), "k/w", &failingReader{n: 500}, -1); err == nil {
		t.Fatal("Put from a failing reader succeeded")
	}
	if got, err := get(t, s, "k/v", 0, -1); err != nil || !bytes.Equal(got, old) {
		t.Fatalf("after a failed Put, Get = %d bytes, %v; want the old %d", len(got), err, len(old))
	}
	if _, err := s.Stat(context.Background(), "k/w"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("a failed Put left an object: %v", err)
	}
	infos, err := s.List(context.Background(), "k/")
	if err != nil || len(infos) != 1 {
		t.Fatalf("List after a failed Put = %+v, %v; want only k/v", infos, err)
	}
}

func keys(infos []blob.Info) []string {
	var out []string
	for _, i := range infos {
		out = append(out, i.Key)
	}
	return out
}

func list(t *testing.T, s blob.Store) {
	for _, k := range []string{"a/b/2", "a/b/1", "a/c/1", "ab/1", "b/1"} {
		put(t, s, k, []byte(k))
	}
	for _, c := range []struct {
		prefix string
		want   []string
	}{
		{"a/b/", []string{"a/b/1", "a/b/2"}},
		{"a/", []string{"a/b/1", "a/b/2", "a/c/1"}},
		{"a", []string{"a/b/1", "a/b/2", "a/c/1", "ab/1"}},
		{"", []string{"a/b/1", "a/b/2", "a/c/1", "ab/1", "b/1"}},
		{"zz/", nil},
	} {
		infos, err := s.List(context.Background(), c.prefix)
		if err != nil || !slices.Equal(keys(infos), c.want) {
			t.Errorf("List(%q) = %v, %v; want %v", c.prefix, keys(infos), err, c.want)
		}
		for _, i := range infos {
			if i.Size != int64(len(i.Key)) {
				t.Errorf("List(%q): %s has size %d, want %d", c.prefix, i.Key, i.Size, len(i.Key))
			}
		}
	}
}

func deleteObject(t *testing.T, s blob.Store) {
	put(t, s, "d/1", []byte("x"))
	if err := s.Delete(context.Background(), "d/1"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Stat(context.Background(), "d/1"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Stat after Delete: %v, want ErrNotFound", err)
	}
	if err := s.Delete(context.Background(), "d/1"); err != nil {
		t.Fatalf("Delete of a missing object: %v", err)
	}
}

func badKeys(t *testing.T, s blob.Store) {
	for _, k := range []string{"", "../x", "a/../b", "/a", "a//b", "a/", "A", "a b", ".hidden", "a/.put-1"} {
		if err := s.Put(context.Background(), k, bytes.NewReader(nil), 0); !errors.Is(err, blob.ErrBadKey) {
			t.Errorf("Put(%q) = %v, want ErrBadKey", k, err)
		}
		if _, err := s.Get(context.Background(), k, 0, -1); !errors.Is(err, blob.ErrBadKey) {
			t.Errorf("Get(%q) = %v, want ErrBadKey", k, err)
		}
	}
}
