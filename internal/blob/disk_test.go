package blob_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"vigil/internal/blob"
	"vigil/internal/blob/blobtest"
	"vigil/internal/testkit"
)

func TestDisk(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store {
		d, err := blob.NewDisk(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return d
	})
}

// TestDiskLeavesNoTemporaryFiles: a failed put removes its temporary file,
// and an object's file is private to the process's user.
func TestDiskLeavesNoTemporaryFiles(t *testing.T) {
	root := t.TempDir()
	d, err := blob.NewDisk(root)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := d.Put(ctx, "a/b", bytes.NewReader([]byte("hello")), 5); err != nil {
		t.Fatal(err)
	}
	if err := d.Put(ctx, "a/c", bytes.NewReader([]byte("hel")), 5); err == nil {
		t.Fatal("a Put shorter than its size succeeded")
	}
	entries, err := os.ReadDir(filepath.Join(root, "a"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "b" {
		t.Fatalf("directory holds %v, want only b", entries)
	}
	fi, err := os.Stat(filepath.Join(root, "a", "b"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("object file mode %v, %v; want 0600", fi.Mode(), err)
	}
}

// TestDiskPartials: what a Put has written before it ends (its process
// killed, here a Put still waiting for more) is listed under the Put's
// key, readable and removable; whole objects are not listed.
func TestDiskPartials(t *testing.T) {
	d, err := blob.NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := d.Put(ctx, "rec/cam/main/1-ab.seg", bytes.NewReader([]byte("whole")), 5); err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- d.Put(ctx, "rec/cam/main/2-cd.seg", pr, -1) }()
	if _, err := pw.Write([]byte("half of a")); err != nil {
		t.Fatal(err)
	}
	var ps []blob.Partial
	testkit.WaitFor(t, 10*time.Second, "the put's partial", func() error {
		ps, err = d.Partials(ctx, "rec/")
		if err == nil && (len(ps) != 1 || ps[0].Size != 9) {
			err = fmt.Errorf("partials %+v", ps)
		}
		return err
	})
	if ps[0].Key != "rec/cam/main/2-cd.seg" {
		t.Fatalf("partial's key %q", ps[0].Key)
	}
	if b, err := d.ReadPartial(ps[0]); string(b) != "half of a" || err != nil {
		t.Fatalf("ReadPartial = %q, %v", b, err)
	}
	if other, _ := d.Partials(ctx, "other/"); len(other) != 0 {
		t.Fatalf("partials under another prefix: %v", other)
	}
	if err := d.RemovePartial(ps[0]); err != nil {
		t.Fatal(err)
	}
	pw.CloseWithError(errors.New("killed"))
	if err := <-done; err == nil {
		t.Fatal("the cut Put succeeded")
	}
	if ps, _ := d.Partials(ctx, "rec/"); len(ps) != 0 {
		t.Fatalf("partials left: %v", ps)
	}
}

// TestDiskFree: a disk store reports a free space that shrinks when a
// file takes room on its file system.
func TestDiskFree(t *testing.T) {
	d, err := blob.NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	before, err := d.Free(t.Context())
	if err != nil || before <= 0 {
		t.Fatalf("Free = %d, %v", before, err)
	}
	const size = 64 << 20
	if err := d.Put(t.Context(), "big", bytes.NewReader(make([]byte, size)), size); err != nil {
		t.Fatal(err)
	}
	after, err := d.Free(t.Context())
	if err != nil || after > before-size/2 {
		t.Fatalf("Free after writing %d bytes = %d (before %d), %v", size, after, before, err)
	}
}
