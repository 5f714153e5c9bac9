package stills

import (
	"bytes"
	"context"
	"image"
	"image/jpeg"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"vigil/internal/access"
	"vigil/internal/hub"
	"vigil/internal/seal"
	"vigil/internal/sim"
	"vigil/internal/testkit/simcam"
)

// Only tests mint their own grants; in Vigil only auth does.
var issuer = access.NewIssuer()

func grant(d access.DeviceID) access.Grant {
	return issuer.Mint("u-test", d, access.AudienceWeb, time.Hour)
}

const (
	camA access.DeviceID = "cam-front"
	camB access.DeviceID = "cam-back"
)

// picW, picH is the synthetic cameras' picture size.
const picW, picH = 320, 240

type testEnv struct {
	hub        *hub.Hub
	svc        *Service
	cfg        Config
	violations prometheus.Counter
}

func testMaster() []byte { return bytes.Repeat([]byte{7}, seal.MasterKeySize) }

func newEnv(t *testing.T, edit ...func(*Config)) *testEnv {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Fatal("ffmpeg not found: run `make test`, which installs it")
	}
	sealer, err := seal.NewSealer(testMaster())
	if err != nil {
		t.Fatal(err)
	}
	e := &testEnv{hub: hub.New(hub.Config{})}
	e.violations = e.hub.Metrics().Violations
	e.cfg = Config{Hub: e.hub, Sealer: sealer, Epochs: &fakeEpochs{}, Dir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(t.Output(), nil))}
	for _, f := range edit {
		f(&e.cfg)
	}
	e.svc = e.restart(t)
	return e
}

// restart makes a new Service on the same config (and directory).
func (e *testEnv) restart(t *testing.T) *Service {
	t.Helper()
	svc, err := New(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	return svc
}

// publish starts a synthetic camera that draws its own block code and
// writes one GOP (a keyframe and two P pictures).
func publish(t *testing.T, h *hub.Hub, cam access.DeviceID) *hub.Publisher {
	t.Helper()
	f := simcam.Publish(t, h, cam, access.StreamMain, newCamera(t, cam), nil)
	for range 3 {
		if err := f.Frame(); err != nil {
			t.Fatal(err)
		}
	}
	return f.Pub
}

// newCamera is a camera of cam's picture at 10 fps with a keyframe a
// second, unstamped: stills never see stamps.
func newCamera(t *testing.T, cam access.DeviceID) *simcam.Camera {
	return simcam.New(t, simcam.Config{ID: string(cam), Width: picW, Height: picH, FPS: 10, GOP: 10, ParamsInTrack: true})
}

// writeKeyframe writes one more keyframe of cam's picture.
func writeKeyframe(t *testing.T, pub *hub.Publisher, cam access.DeviceID, pts time.Duration) {
	t.Helper()
	u := newCamera(t, cam).Next()
	u.PTS = pts
	if err := pub.Write(0, u); err != nil {
		t.Fatal(err)
	}
}

// checkPicture decodes a JPEG and checks its size and block code.
func checkPicture(t *testing.T, b []byte, cam access.DeviceID, w, h int) {
	t.Helper()
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("still of %s does not decode: %v", cam, err)
	}
	if got := img.Bounds().Size(); got != image.Pt(w, h) {
		t.Errorf("still of %s is %v, want %dx%d", cam, got, w, h)
	}
	code, err := sim.ReadCode(img)
	if err != nil || code != sim.CodeFor(string(cam)) {
		t.Errorf("still of %s shows code %06x (%v), want %06x", cam, code, err, sim.CodeFor(string(cam)))
	}
}

// cameraJPEG is what a camera would upload: its picture as a JPEG.
func cameraJPEG(t *testing.T, cam access.DeviceID) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, sim.DrawPicture(string(cam), picW, picH), &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func upload(t *testing.T, svc *Service, cam access.DeviceID, b []byte) {
	t.Helper()
	if err := svc.Upload(context.Background(), cam, access.StreamMain, bytes.NewReader(b)); err != nil {
		t.Fatalf("upload for %s: %v", cam, err)
	}
}

func counterValue(c prometheus.Counter) float64 { return testutil.ToFloat64(c) }

// slowFFmpeg writes a wrapper that sleeps before running the real ffmpeg,
// or only sleeps (a hung decoder) while the file it returns exists.
func slowFFmpeg(t *testing.T, delay string) (path, hangFlag string) {
	t.Helper()
	real, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path, hangFlag = filepath.Join(dir, "ffmpeg"), filepath.Join(dir, "hang")
	script := "#!/bin/sh\nif [ -e '" + hangFlag + "' ]; then exec sleep 30; fi\nsleep " + delay + "\nexec '" + real + "' \"$@\"\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path, hangFlag
}
