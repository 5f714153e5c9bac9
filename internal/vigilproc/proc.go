// Package vigilproc drives a vigil binary as its own process, for the
// programs that measure or test Vigil end to end (the bench, the leak
// canary): it builds the binary, runs subcommands on a data directory,
// starts `vigil serve` on free loopback ports and waits until it is
// healthy, kills it with SIGKILL and starts it again on the same ports,
// stops it, and reads its metrics and its log.
//
// It runs the binary as an operator would; server code never imports it.
package vigilproc

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"vigil/internal/loopback"
)

// healthyWithin bounds the wait for a fresh process's /healthz: a
// race-detector build on a loaded machine is slow to start.
const healthyWithin = 60 * time.Second

// Config says which binary runs where.
type Config struct {
	Bin  string // the vigil binary
	Data string // its data directory (VIGIL_DATA_DIR)
	// Log collects the process's output; every start appends to it.
	Log string
	// Env adds VIGIL_*=value settings after the driver's own (data
	// directory, loopback addresses, admin password), which it overrides.
	Env []string
	// Base is where the API answers, e.g. https://127.0.0.1:8443 when Env
	// turns TLS on (plain HTTP then only redirects). It defaults to
	// http://HTTP().
	Base string
	// AdminPassword is the admin's password (VIGIL_ADMIN_PASSWORD). It
	// defaults to a random one; nodes of a cluster, which share one
	// store, need the same.
	AdminPassword string
}

// Proc is one vigil binary on its data directory: not running until
// Start, then `vigil serve` on loopback ports that stay the same across
// restarts (proxies in front of it keep pointing at them).
type Proc struct {
	cfg     Config
	adminPW string
	hc      *http.Client // for health and metrics: follows the redirect to a self-signed https; ctx bounds each request

	mu      sync.Mutex
	rtsp    string        // guarded by mu; host:port
	http    string        // guarded by mu; host:port
	udp     int           // guarded by mu; RTP port, RTCP is udp+1
	cmd     *exec.Cmd     // guarded by mu; nil when not running
	exited  chan struct{} // guarded by mu; closed when cmd has exited and been reaped
	started bool          // guarded by mu; some start became healthy
}

// New picks free loopback ports and an admin password for cfg.Bin on
// cfg.Data; nothing runs yet.
func New(cfg Config) (*Proc, error) {
	if cfg.Bin == "" || cfg.Data == "" {
		return nil, errors.New("vigilproc: Config needs Bin and Data")
	}
	p := &Proc{cfg: cfg, adminPW: cmp.Or(cfg.AdminPassword, randomHex(16)),
		hc: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}}
	if err := p.newPorts(); err != nil {
		return nil, err
	}
	return p, nil
}

// RTSP is the RTSP server's host:port.
func (p *Proc) RTSP() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rtsp
}

// HTTP is the HTTP server's host:port.
func (p *Proc) HTTP() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.http
}

// Base is where the API answers: Config.Base, or http://HTTP().
func (p *Proc) Base() string {
	if p.cfg.Base != "" {
		return p.cfg.Base
	}
	return "http://" + p.HTTP()
}

// AdminPassword is the admin's password (VIGIL_ADMIN_PASSWORD).
func (p *Proc) AdminPassword() string { return p.adminPW }

// PID is the running process's ID, 0 when none runs.
func (p *Proc) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

func (p *Proc) env() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	env := append(os.Environ(), "VIGIL_DATA_DIR="+p.cfg.Data, "VIGIL_RTSP_ADDR="+p.rtsp, "VIGIL_HTTP_ADDR="+p.http,
		"VIGIL_RTSP_UDP_RTP_ADDR="+loopback.Addr(p.udp), "VIGIL_RTSP_UDP_RTCP_ADDR="+loopback.Addr(p.udp+1),
		"VIGIL_ADMIN_PASSWORD="+p.adminPW)
	return append(env, p.cfg.Env...)
}

// CLI runs a vigil subcommand on the data directory (running or not) and
// decodes its JSON output into out.
func (p *Proc) CLI(ctx context.Context, out any, args ...string) error {
	cmd := exec.CommandContext(ctx, p.cfg.Bin, args...)
	cmd.Env = p.env()
	b, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("vigil %s: %w: %s", strings.Join(args, " "), err, ee.Stderr)
		}
		return fmt.Errorf("vigil %s: %w", strings.Join(args, " "), err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("vigil %s: output %q: %w", strings.Join(args, " "), b, err)
	}
	return nil
}

// Start runs `vigil serve` and waits until /healthz answers 200. The first
// start may find a port taken by another program since New picked it:
// then it picks new ports and tries again, three times in all.
func (p *Proc) Start(ctx context.Context) error {
	for attempt := 1; ; attempt++ {
		err := p.startOnce(ctx)
		p.mu.Lock()
		first := !p.started
		p.started = p.started || err == nil
		p.mu.Unlock()
		if !errors.Is(err, ErrExited) || !first || attempt == 3 {
			return err
		}
		if err := p.newPorts(); err != nil {
			return err
		}
	}
}

// ErrExited is a vigil that exited before it was healthy (a port in use,
// a bad setting: its log says).
var ErrExited = errors.New("vigil exited before it was healthy")

func (p *Proc) startOnce(ctx context.Context) error {
	logf, err := os.OpenFile(p.cfg.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("vigil log: %w", err)
	}
	defer logf.Close() // the child keeps its own descriptor
	cmd := exec.Command(p.cfg.Bin, "serve")
	cmd.Env = p.env()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start vigil: %w", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	p.mu.Lock()
	p.cmd, p.exited = cmd, exited
	p.mu.Unlock()
	if err := p.waitHealthy(ctx, exited); err != nil {
		select {
		case <-exited:
			p.take()
			return fmt.Errorf("%w; log %s ends:\n%s", ErrExited, p.cfg.Log, p.LogTail(20))
		default:
		}
		p.Kill9()
		return fmt.Errorf("vigil not healthy: %w; log %s ends:\n%s", err, p.cfg.Log, p.LogTail(20))
	}
	return nil
}

// waitHealthy polls /healthz until it answers 200 OK, the process exits,
// ctx ends or healthyWithin passes. With TLS on it follows the redirect.
func (p *Proc) waitHealthy(ctx context.Context, exited <-chan struct{}) error {
	url := "http://" + p.HTTP() + "/healthz"
	deadline := time.Now().Add(healthyWithin)
	for time.Now().Before(deadline) {
		if p.healthz(ctx, url) {
			return nil
		}
		select {
		case <-exited:
			return ErrExited
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not 200 OK after %s", url, healthyWithin)
}

// healthz reports whether url answers 200 OK within 2 s.
func (p *Proc) healthz(ctx context.Context, url string) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	res, err := p.hc.Do(req)
	if err != nil {
		return false
	}
	res.Body.Close()
	return res.StatusCode == http.StatusOK
}

// newPorts picks fresh loopback ports.
func (p *Proc) newPorts() error {
	ports, err := loopback.TCPPorts(2)
	if err != nil {
		return err
	}
	udp, err := loopback.UDPPair()
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.rtsp, p.http, p.udp = loopback.Addr(ports[0]), loopback.Addr(ports[1]), udp
	p.mu.Unlock()
	return nil
}

// take forgets the running process and returns it, if there is one.
func (p *Proc) take() (*exec.Cmd, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	cmd, exited := p.cmd, p.exited
	p.cmd = nil
	return cmd, exited
}

// Kill9 kills the process without warning, as a crash would, and reaps it.
func (p *Proc) Kill9() {
	cmd, exited := p.take()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-exited
}

// Restart is Kill9 and Start on the same ports: a crash under load.
func (p *Proc) Restart(ctx context.Context) error {
	p.Kill9()
	return p.Start(ctx)
}

// Stop asks the process to shut down (SIGTERM) and kills it if it has
// not exited within 15 s.
func (p *Proc) Stop() {
	cmd, exited := p.take()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		<-exited
	}
}

// Term asks the process to shut down (SIGTERM) and waits up to within
// for it to exit. It returns how long that took and the exit's error (nil
// for status 0); a process still running at within is killed, and that
// is an error too.
func (p *Proc) Term(within time.Duration) (time.Duration, error) {
	cmd, exited := p.take()
	if cmd == nil {
		return 0, errors.New("vigil is not running")
	}
	began := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(within):
		cmd.Process.Kill()
		<-exited
		return time.Since(began), fmt.Errorf("vigil still running %v after SIGTERM; killed", within)
	}
	took := time.Since(began)
	if !cmd.ProcessState.Success() {
		return took, fmt.Errorf("vigil exited after SIGTERM: %v", cmd.ProcessState)
	}
	return took, nil
}

// Build compiles the vigil binary of the module at src into dir, with the
// race detector if race and with the build tags given; the binary's name
// says both (vigil-race-canarymutant).
func Build(ctx context.Context, src, dir string, race bool, tags ...string) (string, error) {
	name := "vigil"
	args := []string{"build"}
	if race {
		args = append(args, "-race")
		name += "-race"
	}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
		name += "-" + strings.Join(tags, "-")
	}
	bin := filepath.Join(dir, name)
	args = append(args, "-o", bin, "./cmd/vigil")
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = src
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return bin, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
