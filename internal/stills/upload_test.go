package stills

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/seal"
	"vigil/internal/sim"
)

// TestUploadOnlyToItsDevice: an upload comes back byte for byte to a grant
// for its camera, and to no other grant.
func TestUploadOnlyToItsDevice(t *testing.T) {
	e := newEnv(t)
	jpgA := cameraJPEG(t, camA)
	upload(t, e.svc, camA, jpgA)

	st, err := e.svc.Get(context.Background(), grant(camA), Request{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(st.JPEG, jpgA) || st.Device != camA || st.Source != SourceUpload || !st.Fallback {
		t.Errorf("own grant: same bytes %v device %s source %s fallback %v", bytes.Equal(st.JPEG, jpgA), st.Device, st.Source, st.Fallback)
	}
	for _, g := range []access.Grant{grant(camB), grant("cam-fronts"), {}, issuer.Mint("u-test", camA, access.AudienceWeb, -time.Second)} {
		st, err := e.svc.Get(context.Background(), g, Request{})
		if err == nil || st.JPEG != nil {
			t.Errorf("%v got %d bytes, %v", g, len(st.JPEG), err)
		}
	}
	// At rest the still is sealed: its bytes are nowhere in the file.
	b, err := os.ReadFile(filepath.Join(e.cfg.Dir, "cam-front.main.still"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, jpgA[:64]) || bytes.Contains(b, jpgA[len(jpgA)-64:]) {
		t.Error("upload stored in the clear")
	}
}

// TestMiskeyedCacheCaughtAtEgress plants camera A's still under camera B's
// key, as a cache bug would: the egress check withholds it and counts.
func TestMiskeyedCacheCaughtAtEgress(t *testing.T) {
	e := newEnv(t)
	jpgA := cameraJPEG(t, camA)
	upload(t, e.svc, camA, jpgA)
	e.svc.mu.Lock()
	m := e.svc.uploads[streamKey{camA, access.StreamMain}]
	e.svc.uploads[streamKey{camB, access.StreamMain}] = m
	e.svc.mu.Unlock()
	f := e.svc.cache.get(stillKey{device: camA, stream: access.StreamMain, source: fromUpload, seq: m.seq})
	if f == nil {
		t.Fatal("upload not cached")
	}
	e.svc.cache.put(stillKey{device: camB, stream: access.StreamMain, source: fromUpload, seq: m.seq}, f)

	st, err := e.svc.Get(context.Background(), grant(camB), Request{})
	var mm *access.MismatchError
	if !errors.As(err, &mm) || st.JPEG != nil {
		t.Fatalf("mis-keyed still: %d bytes, %v; want a MismatchError and nothing", len(st.JPEG), err)
	}
	if mm.Grant != camB || mm.Object != camA {
		t.Errorf("mismatch names grant %s object %s", mm.Grant, mm.Object)
	}
	if v := counterValue(e.violations); v != 1 {
		t.Errorf("violations = %v, want 1", v)
	}
	// MJPEG ends at once and writes nothing.
	var buf bytes.Buffer
	err = e.svc.MJPEG(context.Background(), &buf, nil, grant(camB), Request{}, 5)
	if !errors.As(err, &mm) || buf.Len() != 0 {
		t.Errorf("MJPEG of a mis-keyed still: wrote %d bytes, %v", buf.Len(), err)
	}
}

// TestMiskeyedFileDoesNotOpen: camera A's sealed file under camera B's name
// (a mis-keyed lookup on disk) opens for no one.
func TestMiskeyedFileDoesNotOpen(t *testing.T) {
	e := newEnv(t)
	upload(t, e.svc, camA, cameraJPEG(t, camA))
	b, err := os.ReadFile(filepath.Join(e.cfg.Dir, "cam-front.main.still"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"cam-back.main.still", "cam-front.sub.still"} {
		if err := os.WriteFile(filepath.Join(e.cfg.Dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	svc := e.restart(t)
	st, err := svc.Get(context.Background(), grant(camB), Request{})
	if !errors.Is(err, ErrOffline) || st.JPEG != nil {
		t.Errorf("foreign file under B's name: %d bytes, %v", len(st.JPEG), err)
	}
	st, err = svc.Get(context.Background(), grant(camA), Request{Stream: access.StreamSub})
	if !errors.Is(err, ErrOffline) || st.JPEG != nil {
		t.Errorf("main file under sub's name: %d bytes, %v", len(st.JPEG), err)
	}
	if _, err := svc.Get(context.Background(), grant(camA), Request{}); err != nil {
		t.Errorf("own file: %v", err)
	}
}

func TestUploadRefused(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxUpload = 64 << 10 })
	good := cameraJPEG(t, camA)
	var pngBuf bytes.Buffer
	png.Encode(&pngBuf, sim.DrawPicture("cam-front", 64, 48))
	big := append(bytes.Clone(good[:len(good)-2]), make([]byte, 64<<10)...)
	big = append(big, 0xff, 0xd9)
	cases := []struct {
		name   string
		device access.DeviceID
		stream access.StreamID
		body   []byte
		want   error
	}{
		{"text", camA, access.StreamMain, []byte("hello, world"), ErrNotJPEG},
		{"empty", camA, access.StreamMain, nil, ErrNotJPEG},
		{"png", camA, access.StreamMain, pngBuf.Bytes(), ErrNotJPEG},
		{"no EOI", camA, access.StreamMain, good[:len(good)-2], ErrNotJPEG},
		{"markers only", camA, access.StreamMain, []byte{0xff, 0xd8, 0xff, 0xd9}, ErrNotJPEG},
		{"over MaxUpload", camA, access.StreamMain, big, ErrTooLarge},
		{"bad device", "../etc", access.StreamMain, good, access.ErrBadDeviceID},
		{"bad stream", camA, "x", good, access.ErrBadStreamID},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := e.svc.Upload(context.Background(), c.device, c.stream, bytes.NewReader(c.body))
			if !errors.Is(err, c.want) {
				t.Errorf("Upload = %v, want %v", err, c.want)
			}
		})
	}
	if _, err := e.svc.Get(context.Background(), grant(camA), Request{}); !errors.Is(err, ErrOffline) {
		t.Errorf("after refused uploads: %v, want ErrOffline", err)
	}
	entries, _ := os.ReadDir(e.cfg.Dir)
	if len(entries) != 0 {
		t.Errorf("refused uploads left %d files", len(entries))
	}
}

func TestUploadsSurviveRestart(t *testing.T) {
	e := newEnv(t)
	jpgA, jpgB := cameraJPEG(t, camA), cameraJPEG(t, camB)
	upload(t, e.svc, camA, cameraJPEG(t, camB)) // replaced by the next
	upload(t, e.svc, camA, jpgA)
	upload(t, e.svc, camB, jpgB)
	before, err := e.svc.Get(context.Background(), grant(camA), Request{})
	if err != nil {
		t.Fatal(err)
	}

	svc := e.restart(t)
	for cam, want := range map[access.DeviceID][]byte{camA: jpgA, camB: jpgB} {
		st, err := svc.Get(context.Background(), grant(cam), Request{})
		if err != nil {
			t.Fatalf("%s after restart: %v", cam, err)
		}
		if !bytes.Equal(st.JPEG, want) || st.Device != cam {
			t.Errorf("%s after restart: other still", cam)
		}
		if cam == camA && !st.Captured.Equal(before.Captured) {
			t.Errorf("captured %v after restart, %v before", st.Captured, before.Captured)
		}
	}
	// A newer upload after the restart replaces the old one.
	upload(t, svc, camA, jpgB)
	if st, _ := svc.Get(context.Background(), grant(camA), Request{}); !bytes.Equal(st.JPEG, jpgB) {
		t.Error("upload after restart not served")
	}

	// Another master key opens nothing.
	other, _ := seal.NewSealer(bytes.Repeat([]byte{8}, seal.MasterKeySize))
	e.cfg.Sealer = other
	svc = e.restart(t)
	if st, err := svc.Get(context.Background(), grant(camA), Request{}); !errors.Is(err, ErrOffline) || st.JPEG != nil {
		t.Errorf("other master key: %d bytes, %v", len(st.JPEG), err)
	}
}

func TestUploadScaled(t *testing.T) {
	e := newEnv(t)
	upload(t, e.svc, camA, cameraJPEG(t, camA))
	for range 2 {
		st, err := e.svc.Get(context.Background(), grant(camA), Request{Width: 160})
		if err != nil {
			t.Fatal(err)
		}
		checkPicture(t, st.JPEG, camA, 160, 120)
	}
	if n := e.svc.scaleRuns.Load(); n != 1 {
		t.Errorf("upload rescaled %d times, want 1", n)
	}
	// Never enlarged: a width above the original is the original.
	st, err := e.svc.Get(context.Background(), grant(camA), Request{Width: 1000})
	if err != nil {
		t.Fatal(err)
	}
	checkPicture(t, st.JPEG, camA, picW, picH)
}

func TestBadRequests(t *testing.T) {
	e := newEnv(t)
	upload(t, e.svc, camA, cameraJPEG(t, camA))
	for _, req := range []Request{{Width: 15}, {Width: -1}, {Width: MaxWidth + 1}, {MaxAge: -time.Second}, {Stream: "../main"}} {
		if st, err := e.svc.Get(context.Background(), grant(camA), req); !errors.Is(err, ErrBadRequest) || st.JPEG != nil {
			t.Errorf("%+v: %v", req, err)
		}
	}
	for _, fps := range []float64{0, 0.05, 31, -1, math.NaN(), math.Inf(1)} {
		var buf bytes.Buffer
		if err := e.svc.MJPEG(context.Background(), &buf, nil, grant(camA), Request{}, fps); !errors.Is(err, ErrBadRequest) || buf.Len() != 0 {
			t.Errorf("fps %v: %v", fps, err)
		}
	}
	if _, err := New(Config{}); err == nil || !strings.Contains(err.Error(), "Hub") || !strings.Contains(err.Error(), "Dir") {
		t.Errorf("New(empty config) = %v; want every missing field named", err)
	}
}

// TestRevokedGrantIsNoViolation: a share revoked while a still is being
// made withholds the still without counting an isolation violation (the
// counter must stay a signal of mix-ups only).
func TestRevokedGrantIsNoViolation(t *testing.T) {
	e := newEnv(t)
	lease := access.NewLease()
	g := issuer.MintLeased("u-test", camA, access.AudienceWeb, time.Hour, lease, time.Time{})
	lease.Revoke()
	err := e.svc.egress(g, &frame{jpeg: []byte{1}, device: camA, stream: access.StreamMain, source: SourceUpload})
	if !errors.Is(err, access.ErrGrantRevoked) {
		t.Fatalf("egress with a revoked grant: %v, want ErrGrantRevoked", err)
	}
	if v := counterValue(e.violations); v != 0 {
		t.Errorf("violations = %v, want 0", v)
	}
}

// TestReplicaFromAnotherNode: a still uploaded on one node, handed as its
// stored file to another node's Service (as a cluster shares it), comes
// back byte for byte there to a grant for its camera, replaces an older
// upload but not a newer one, and the same file filed under another
// camera is refused (it does not open as that camera's) and opens for no
// one.
func TestReplicaFromAnotherNode(t *testing.T) {
	var files [][]byte
	origin := newEnv(t, func(c *Config) {
		c.Replicate = func(d access.DeviceID, s access.StreamID, file []byte) {
			if d == camA && s == access.StreamMain {
				files = append(files, file)
			}
		}
	})
	other := newEnv(t, func(c *Config) {
		c.Epochs = origin.cfg.Epochs // the store the nodes share
		c.ReplicaGrant = func(_ context.Context, d access.DeviceID) (access.Grant, error) { return grant(d), nil }
	})
	old, jpgA := cameraJPEG(t, camA), cameraJPEG(t, camA)
	upload(t, other.svc, camA, old)
	upload(t, origin.svc, camA, jpgA)
	if len(files) != 1 {
		t.Fatalf("%d files shared for one upload", len(files))
	}
	if err := other.svc.Replica(t.Context(), camA, access.StreamMain, files[0]); err != nil {
		t.Fatal(err)
	}
	if err := other.svc.Replica(t.Context(), camB, access.StreamMain, files[0]); err == nil {
		t.Fatal("camera A's file was kept as camera B's still")
	}
	st, err := other.svc.Get(context.Background(), grant(camA), Request{})
	if err != nil || !bytes.Equal(st.JPEG, jpgA) || st.Device != camA {
		t.Fatalf("the replica on the other node: %d bytes (the upload's: %v), %v", len(st.JPEG), bytes.Equal(st.JPEG, jpgA), err)
	}
	if st, err := other.svc.Get(context.Background(), grant(camB), Request{}); err == nil || st.JPEG != nil {
		t.Fatalf("camera A's file filed under B: %d bytes, %v", len(st.JPEG), err)
	}
	newer := cameraJPEG(t, camA)
	upload(t, other.svc, camA, newer)
	if err := other.svc.Replica(t.Context(), camA, access.StreamMain, files[0]); err != nil {
		t.Fatal(err)
	}
	if st, _ := other.svc.Get(context.Background(), grant(camA), Request{}); !bytes.Equal(st.JPEG, newer) {
		t.Fatal("an older replica replaced a newer upload")
	}
}
