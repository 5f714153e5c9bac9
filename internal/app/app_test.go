package app

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/auth"
	"vigil/internal/config"
	"vigil/internal/sim"
	"vigil/internal/store"
	"vigil/internal/testkit"
)

const adminPassword = "admin-test-password"

var stampSecret = []byte("app test stamp secret")

type testApp struct {
	*App
	cancel context.CancelFunc
	done   chan error
}

// startApp runs a Vigil on loopback with a fresh data directory (or dataDir).
func startApp(t *testing.T, dataDir string, mutate func(*config.Config)) *testApp {
	t.Helper()
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	for try := 0; ; try++ {
		cfg := config.Default()
		cfg.DataDir = dataDir
		cfg.RTSPAddr, cfg.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0"
		udp := 20000 + 2*rand.IntN(15000)
		cfg.RTSPUDPRTPAddr, cfg.RTSPUDPRTCPAddr = fmt.Sprintf("127.0.0.1:%d", udp), fmt.Sprintf("127.0.0.1:%d", udp+1)
		cfg.AdminPassword = adminPassword
		cfg.ShutdownTimeout = 2 * time.Second
		if mutate != nil {
			mutate(&cfg)
		}
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		if testing.Verbose() {
			log = slog.Default()
		}
		a, err := New(context.Background(), cfg, log)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Start(); err != nil {
			a.store.Close()
			if try < 10 && strings.Contains(err.Error(), "address already in use") {
				continue
			}
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		ta := &testApp{App: a, cancel: cancel, done: make(chan error, 1)}
		go func() { ta.done <- a.Run(ctx) }()
		t.Cleanup(ta.stop)
		return ta
	}
}

func (a *testApp) stop() {
	a.cancel()
	<-a.done
	a.done <- nil // later stops return at once
}

func (a *testApp) rtspURL(user, pass, path string) string {
	return fmt.Sprintf("rtsp://%s:%s@%s/%s", user, pass, a.RTSPAddr(), path)
}

// addCamera provisions a device and returns a simulated camera for it.
func (a *testApp) addCamera(t *testing.T, name string) *sim.Camera {
	t.Helper()
	id, err := store.NewDeviceID()
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := auth.NewPassword()
	d := store.Device{ID: id, Name: name, Credential: auth.HashCredential(string(id), pw)}
	if err := a.store.CreateDevice(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	return &sim.Camera{URL: a.rtspURL(string(id), pw, string(id)), ID: string(id),
		Key: sim.CameraKey(stampSecret, string(id)), FPS: 15}
}

// run publishes cameras until the test ends and waits until they are live.
func (a *testApp) run(t *testing.T, cams ...*sim.Camera) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sim.RunMany(ctx, cams); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	for _, c := range cams {
		a.waitOnline(t, access.DeviceID(c.ID))
	}
}

// waitOnline waits until the camera is publishing and its first keyframe is cached.
func (a *testApp) waitOnline(t *testing.T, id access.DeviceID) {
	t.Helper()
	g, err := a.grantFor(context.Background(), AdminName, id, access.AudienceWeb)
	if err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 15*time.Second, "keyframe of camera "+string(id), func() error {
		_, err := a.hub.Keyframe(g, access.StreamMain)
		if err != nil {
			// ErrOffline says the same for no publisher, no keyframe yet and
			// none since the grant's epoch: say which (CI failed here once,
			// with nothing more to go on).
			last, ok := a.hub.LastFrame(id, access.StreamMain)
			err = fmt.Errorf("%w (publishing %v, a unit received %v, the last %v ago, grant epoch %v)",
				err, a.hub.Publishing(id, access.StreamMain), ok, time.Since(last).Round(time.Millisecond), g.Epoch().Format(time.StampMilli))
		}
		return err
	})
}

func needFFmpeg(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Fatal("ffmpeg is missing: run `make test`, which installs it")
	}
}

// readStamps has ffmpeg (an independent client) read frames video frames
// from url, untouched (-c copy), and returns a checker that has seen them;
// anything ffmpeg complains about is an error.
func readStamps(url, transport string, frames int) (*sim.Checker, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "ffmpeg", "-v", "error", "-rtsp_transport", transport, "-i", url,
		"-map", "0:v", "-c", "copy", "-frames:v", fmt.Sprint(frames), "-f", "h264", "pipe:1")
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("ffmpeg: %w: %s", err, stderr.String())
	}
	if stderr.Len() > 0 {
		return nil, fmt.Errorf("ffmpeg complained: %s", stderr.String())
	}
	chk := sim.NewChecker(sim.StaticKeys(stampSecret))
	return chk, chk.AnnexB(out.Bytes())
}

// ffmpegDecode has ffmpeg decode frames frames from url and returns its
// error output (empty when every picture decoded cleanly).
func ffmpegDecode(t *testing.T, url, transport string, frames int) string {
	t.Helper()
	needFFmpeg(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffmpeg", "-v", "error", "-rtsp_transport", transport, "-i", url,
		"-frames:v", fmt.Sprint(frames), "-f", "null", "-").CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg decode %s: %v\n%s", url, err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestViewersGetOnlyTheirCamerasStamps(t *testing.T) {
	a := startApp(t, "", nil)
	cams := []*sim.Camera{a.addCamera(t, "one"), a.addCamera(t, "two"), a.addCamera(t, "three")}
	cams[1].Audio = true
	cams[2].UDP = true
	a.run(t, cams...)
	for _, c := range cams {
		for _, transport := range []string{"tcp", "udp"} {
			t.Run(c.ID+"-"+transport, func(t *testing.T) {
				needFFmpeg(t)
				chk, err := readStamps(a.rtspURL(AdminName, adminPassword, c.ID), transport, 20)
				if err != nil {
					t.Fatal(err)
				}
				if err := chk.Only(c.ID); err != nil {
					t.Fatalf("stamps %v: %v", chk.Counts(), err)
				}
				if n := chk.Counts()[c.ID]; n < 20 {
					t.Fatalf("%d stamped frames, want at least 20", n)
				}
			})
		}
	}
}

// callerNamed is the user name as the edge resolves them after checking
// their password (the zero Caller, which nothing accepts, if none).
func (a *testApp) callerNamed(ctx context.Context, name string) auth.Caller {
	c, _ := a.auth.DigestCaller(ctx, name, func(auth.Credential) error { return nil })
	return c
}

// grantFor mints a grant for the user name as the edge would after the
// user's password was checked: resolved to a Caller once, then granted.
func (a *testApp) grantFor(ctx context.Context, name string, device access.DeviceID, aud access.Audience) (access.Grant, error) {
	c, err := a.auth.DigestCaller(ctx, name, func(auth.Credential) error { return nil })
	if err != nil {
		return access.Grant{}, err
	}
	return a.auth.Grant(ctx, c, auth.Use{Device: device, Audiences: []access.Audience{aud}})
}
