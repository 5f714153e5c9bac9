package rtsp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"vigil/internal/access"
	vauth "vigil/internal/auth"
	"vigil/internal/hub"
	"vigil/internal/testkit"
)

var issuer = access.NewIssuer()

// fakeAuth knows some cameras (password "pw-<id>") and one viewer, "admin",
// who may read every known camera.
type fakeAuth struct {
	cameras map[access.DeviceID]bool
}

func (f fakeAuth) CameraCredential(_ context.Context, d access.DeviceID) (vauth.Credential, error) {
	if !f.cameras[d] {
		return vauth.Credential{}, vauth.ErrUnknown
	}
	return vauth.HashCredential(string(d), "pw-"+string(d)), nil
}

func (f fakeAuth) DigestCaller(_ context.Context, name string, check func(vauth.Credential) error) (vauth.Caller, error) {
	if name != "admin" {
		return vauth.Caller{}, vauth.ErrUnknown
	}
	if err := check(vauth.HashCredential("admin", "secret")); err != nil {
		return vauth.Caller{}, err
	}
	return vauth.Caller{Principal: vauth.Principal{ID: "admin", Name: "admin"}, Scope: vauth.ScopeAccount}, nil
}

func (f fakeAuth) Grant(_ context.Context, c vauth.Caller, use vauth.Use) (access.Grant, error) {
	if c.Name != "admin" || !f.cameras[use.Device] {
		return access.Grant{}, vauth.ErrForbidden
	}
	return issuer.Mint("admin", use.Device, use.Audiences[0], time.Hour), nil
}

// TokenGrant accepts "tok-<device>" for that device.
func (f fakeAuth) TokenGrant(_ context.Context, raw string, use vauth.Use) (access.Grant, vauth.Token, error) {
	d, ok := strings.CutPrefix(raw, "tok-")
	switch {
	case !ok || !f.cameras[access.DeviceID(d)]:
		return access.Grant{}, vauth.Token{}, vauth.ErrBadToken
	case access.DeviceID(d) != use.Device:
		return access.Grant{}, vauth.Token{}, vauth.ErrTokenMisused
	}
	return issuer.Mint("admin", use.Device, access.AudienceRTSP, time.Hour), vauth.Token{}, nil
}

// syncBuffer collects a child process's output while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type env struct {
	srv  *Server
	hub  *hub.Hub
	addr string
}

func start(t *testing.T, cameras ...access.DeviceID) *env {
	t.Helper()
	return startWith(t, nil, cameras...)
}

// startWith is start with the server's config edited before it is built.
func startWith(t *testing.T, edit func(*Config), cameras ...access.DeviceID) *env {
	t.Helper()
	known := map[access.DeviceID]bool{}
	for _, c := range cameras {
		known[c] = true
	}
	h := hub.New(hub.Config{})
	var s *Server
	for try := 0; ; try++ {
		rtp := 20000 + 2*mrand.IntN(10000)
		cfg := Config{Address: "127.0.0.1:0", Hub: h, Auth: fakeAuth{known}, ReadTimeout: 5 * time.Second,
			UDPRTPAddress: fmt.Sprintf("127.0.0.1:%d", rtp), UDPRTCPAddress: fmt.Sprintf("127.0.0.1:%d", rtp+1)}
		if edit != nil {
			edit(&cfg)
		}
		var err error
		if s, err = New(cfg); err != nil {
			t.Fatal(err)
		}
		err = s.Start()
		if err == nil {
			break
		}
		if try == 20 {
			t.Fatal(err)
		}
	}
	t.Cleanup(s.Close)
	return &env{srv: s, hub: s.cfg.Hub, addr: s.Addr().String()}
}

func needFFmpeg(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Fatal("ffmpeg is missing: run `make test`, which installs it")
	}
}

// publishFFmpeg pushes a synthetic 25 fps H.264 stream with a 1 s GOP (and
// G.711 audio) to the camera's path until ctx ends.
func publishFFmpeg(ctx context.Context, t *testing.T, url, transport string) *syncBuffer {
	t.Helper()
	needFFmpeg(t)
	var stderr syncBuffer
	cmd := exec.CommandContext(ctx, "ffmpeg", "-v", "error", "-re",
		"-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=8000",
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "25", "-pix_fmt", "yuv420p",
		"-c:a", "pcm_mulaw",
		"-f", "rtsp", "-rtsp_transport", transport, url)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return &stderr
}

func waitOnline(t *testing.T, h *hub.Hub, d access.DeviceID, stderr *syncBuffer) {
	t.Helper()
	testkit.WaitFor(t, 15*time.Second, "camera "+string(d)+" online", func() error {
		if !h.Online(d, access.StreamMain) {
			return fmt.Errorf("offline; publisher said: %s", stderr)
		}
		return nil
	})
}

// probeFrames has ffmpeg read n video frames from url, decoding them, and
// returns ffmpeg's stderr with -v error (empty when nothing went wrong).
func probeFrames(t *testing.T, url, transport string, n int) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffmpeg", "-v", "error", "-rtsp_transport", transport,
		"-i", url, "-frames:v", fmt.Sprint(n), "-f", "null", "-").CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg read %s: %v\n%s", url, err, out)
	}
	return string(out)
}

func TestFFmpegPushAndRead(t *testing.T) {
	for _, push := range []string{"tcp", "udp"} {
		for _, read := range []string{"tcp", "udp"} {
			t.Run(push+"-"+read, func(t *testing.T) {
				e := start(t, "cam-aaa")
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				stderr := publishFFmpeg(ctx, t, "rtsp://cam-aaa:pw-cam-aaa@"+e.addr+"/cam-aaa", push)
				waitOnline(t, e.hub, "cam-aaa", stderr)
				if out := probeFrames(t, "rtsp://admin:secret@"+e.addr+"/cam-aaa", read, 30); strings.TrimSpace(out) != "" {
					t.Fatalf("decode errors:\n%s", out)
				}
			})
		}
	}
}

func TestWrongCredentialsRefused(t *testing.T) {
	e := start(t, "cam-aaa", "cam-bbb")
	needFFmpeg(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// A camera with another camera's password.
	// ffmpeg's answer is waited for, not slept on: a loaded machine can
	// take more than the 2 s this slept to start ffmpeg and connect it.
	stderr := publishFFmpeg(ctx, t, "rtsp://cam-aaa:pw-cam-bbb@"+e.addr+"/cam-aaa", "tcp")
	testkit.WaitFor(t, 15*time.Second, "the publisher told 401", func() error {
		if !strings.Contains(stderr.String(), "401") {
			return fmt.Errorf("ffmpeg said %q", stderr.String())
		}
		return nil
	})
	if e.hub.Online("cam-aaa", access.StreamMain) {
		t.Fatal("camera published with a wrong password")
	}
	// A viewer with a wrong password, and a stranger camera path.
	for _, url := range []string{
		"rtsp://admin:wrong@" + e.addr + "/cam-aaa",
		"rtsp://admin:secret@" + e.addr + "/cam-zzz",
		"rtsp://" + e.addr + "/cam-aaa",
	} {
		out, err := exec.CommandContext(ctx, "ffmpeg", "-v", "error", "-rtsp_transport", "tcp", "-i", url,
			"-frames:v", "1", "-f", "null", "-").CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("%s: reading succeeded or ffmpeg failed to run: %v %s", url, err, out)
		}
	}
}
