package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"vigil/internal/loopback"
	"vigil/internal/sim"
	"vigil/internal/vigilproc"
)

// go2rtcStream is the one stream of the go2rtc the fan-out compares Vigil
// with: the camera publishes to it (RTSP ANNOUNCE), readers read it.
const go2rtcStream = "bench"

var errNoMetrics = errors.New("no metrics")

// go2rtcProc is a go2rtc process (scripts/go2rtc.sh builds it) with RTSP
// on a loopback port, its other listeners (API, WebRTC, SRTP) off, no
// authentication (loopback) and one stream without a source.
type go2rtcProc struct {
	cmd  *exec.Cmd
	rtsp string // host:port
	log  string
	done chan struct{}
}

var _ measured = (*go2rtcProc)(nil)

func startGo2rtc(ctx context.Context, bin, dir string, streams ...string) (*go2rtcProc, error) {
	ports, err := loopback.TCPPorts(1)
	if err != nil {
		return nil, err
	}
	g := &go2rtcProc{rtsp: loopback.Addr(ports[0]), log: filepath.Join(dir, "go2rtc.log"), done: make(chan struct{})}
	conf := filepath.Join(dir, "go2rtc.yaml")
	yaml := fmt.Sprintf("api:\n  listen: \"\"\nwebrtc:\n  listen: \"\"\nsrtp:\n  listen: \"\"\n"+
		"rtsp:\n  listen: %q\nlog:\n  level: warn\nstreams:\n", g.rtsp)
	for _, name := range append([]string{go2rtcStream}, streams...) {
		yaml += fmt.Sprintf("  %s:\n", name)
	}
	if err := os.WriteFile(conf, []byte(yaml), 0o644); err != nil {
		return nil, err
	}
	logf, err := os.Create(g.log)
	if err != nil {
		return nil, err
	}
	g.cmd = exec.Command(bin, "-config", conf)
	g.cmd.Dir, g.cmd.Stdout, g.cmd.Stderr = dir, logf, logf
	if err := g.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("go2rtc: %w", err)
	}
	go func() { g.cmd.Wait(); logf.Close(); close(g.done) }()
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.DialTimeout("tcp", g.rtsp, time.Second)
		if err == nil {
			c.Close()
			return g, nil
		}
		select {
		case <-g.done:
			return nil, fmt.Errorf("go2rtc exited; log tail:\n%s", vigilproc.Tail(g.log, 20))
		case <-ctx.Done():
			g.Stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			g.Stop()
			return nil, fmt.Errorf("go2rtc: no RTSP on %s in 10 s; log tail:\n%s", g.rtsp, vigilproc.Tail(g.log, 20))
		}
	}
}

func (g *go2rtcProc) PID() int { return g.cmd.Process.Pid }

// scrape: go2rtc exports no metrics; the measurement's Vigil-only
// columns stay empty.
func (g *go2rtcProc) scrape(context.Context) (map[string]float64, error) { return nil, errNoMetrics }

// url is the stream's RTSP URL, for the camera and the readers alike.
func (g *go2rtcProc) url() string { return g.streamURL(go2rtcStream) }

// streamURL is the RTSP URL of a stream named by startGo2rtc.
func (g *go2rtcProc) streamURL(name string) string { return "rtsp://" + g.rtsp + "/" + name }

// camera returns a simulated camera publishing c to the stream.
func (g *go2rtcProc) camera(b *bench, c clip) *sim.Camera {
	d := b.devs[0]
	return &sim.Camera{URL: g.url(), ID: d.ID, Key: sim.CameraKey(b.secret, d.ID), FPS: c.fps, Clip: c.units, Logger: b.simLog}
}

// version is what `go2rtc -version` prints, e.g. "go2rtc version 1.9.9 linux/amd64".
func go2rtcVersion(bin string) string {
	out, err := exec.Command(bin, "-version").Output()
	if err != nil {
		return "go2rtc (version unknown)"
	}
	return strings.TrimSpace(string(out))
}

// Stop ends go2rtc (SIGTERM, then SIGKILL after 5 s) and waits for it.
func (g *go2rtcProc) Stop() {
	g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.done:
	case <-time.After(5 * time.Second):
		g.cmd.Process.Kill()
		<-g.done
	}
}
