package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"vigil/internal/sim"
	"vigil/internal/testkit"
)

// buildVigil compiles the binary once per test run.
func buildVigil(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "vigil")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type server struct {
	bin, dir         string
	rtspPort, httpPt int
	env              []string
	args             []string // after "serve"
	cmd              *exec.Cmd
}

// newServer is a server of a new binary on a new data directory and free
// loopback ports, with env added; slot tells apart the RTP ports of
// servers of one test run.
func newServer(t *testing.T, slot int, env ...string) *server {
	t.Helper()
	s := &server{bin: buildVigil(t), dir: t.TempDir(), rtspPort: freePort(t), httpPt: freePort(t)}
	udp := 30000 + 2*((os.Getpid()+slot)%5000)
	s.env = append([]string{"VIGIL_DATA_DIR=" + s.dir,
		fmt.Sprintf("VIGIL_RTSP_ADDR=127.0.0.1:%d", s.rtspPort), fmt.Sprintf("VIGIL_HTTP_ADDR=127.0.0.1:%d", s.httpPt),
		fmt.Sprintf("VIGIL_RTSP_UDP_RTP_ADDR=127.0.0.1:%d", udp), fmt.Sprintf("VIGIL_RTSP_UDP_RTCP_ADDR=127.0.0.1:%d", udp+1)}, env...)
	return s
}

func (s *server) start(t *testing.T) {
	t.Helper()
	s.cmd = exec.Command(s.bin, append([]string{"serve"}, s.args...)...)
	s.cmd.Env = append(os.Environ(), s.env...)
	s.cmd.Stderr = os.Stderr
	if !testing.Verbose() {
		s.cmd.Stderr = nil
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitHealthy(t, s)
}

// waitHealthy waits for s's /healthz to answer 200.
func waitHealthy(t *testing.T, s *server) {
	t.Helper()
	url := fmt.Sprintf("http://127.0.0.1:%d/healthz", s.httpPt)
	testkit.WaitFor(t, 15*time.Second, "healthy vigil", func() error {
		res, err := http.Get(url)
		if err != nil {
			return err
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			return fmt.Errorf("healthz: %d", res.StatusCode)
		}
		return nil
	})
}

func (s *server) kill9() {
	s.cmd.Process.Signal(syscall.SIGKILL)
	s.cmd.Wait()
}

// readStamps has ffmpeg read frames from url; it retries until the camera is
// back or the deadline passes.
func readStamps(t *testing.T, url, camera string) {
	t.Helper()
	testkit.WaitFor(t, 30*time.Second, "readable camera "+camera, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		out, err := exec.CommandContext(ctx, "ffmpeg", "-v", "error", "-rtsp_transport", "tcp", "-i", url,
			"-map", "0:v", "-c", "copy", "-frames:v", "10", "-f", "h264", "pipe:1").Output()
		cancel()
		if err != nil {
			return err
		}
		chk := sim.NewChecker(sim.StaticKeys([]byte("restart secret")))
		if err := chk.AnnexB(out); err != nil {
			t.Fatal(err)
		}
		if err := chk.Only(camera); err != nil {
			t.Fatalf("stamps %v: %v", chk.Counts(), err)
		}
		return nil
	})
}

func TestDevicesSurviveKill9AndCamerasReconnect(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Fatal("ffmpeg is missing: run `make test`, which installs it")
	}
	s := newServer(t, 0, "VIGIL_ADMIN_PASSWORD=restart-admin")
	s.start(t)
	defer s.kill9()

	dev := addTestDevice(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cam := &sim.Camera{ID: dev.ID, Key: sim.CameraKey([]byte("restart secret"), dev.ID), FPS: 15,
		URL: fmt.Sprintf("rtsp://%s:%s@127.0.0.1:%d/%s", dev.ID, dev.Password, s.rtspPort, dev.ID)}
	go cam.Run(ctx)
	view := fmt.Sprintf("rtsp://admin:restart-admin@127.0.0.1:%d/%s", s.rtspPort, dev.ID)
	readStamps(t, view, dev.ID)

	s.kill9()
	s.start(t)
	readStamps(t, view, dev.ID)
	if cam.Sessions() < 2 {
		t.Fatalf("camera sessions = %d, want a reconnect", cam.Sessions())
	}
}
