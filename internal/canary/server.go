package canary

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"vigil/internal/loopback"
)

// server is the vigil binary under test, on loopback ports that stay the
// same across restarts (the proxies point at them).
type server struct {
	bin, data, logPath string
	rtsp, http         string // host:port
	udp                int    // RTP port; RTCP is udp+1
	adminPW            string
	mutant             string
	googleSecret       string // of the Google client configured in Vigil

	mu       sync.Mutex
	cmd      *exec.Cmd     // guarded by mu
	exited   chan struct{} // guarded by mu; closed when cmd has exited and been reaped
	restarts int           // guarded by mu
}

func newServer(bin, dir, mutant string) (*server, error) {
	s := &server{bin: bin, data: filepath.Join(dir, "data"), logPath: filepath.Join(dir, "vigil.log"),
		adminPW: randomHex(12), mutant: mutant, googleSecret: randomHex(16)}
	if err := s.newPorts(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *server) env() []string {
	env := append(os.Environ(), "VIGIL_DATA_DIR="+s.data, "VIGIL_RTSP_ADDR="+s.rtsp, "VIGIL_HTTP_ADDR="+s.http,
		"VIGIL_RTSP_UDP_RTP_ADDR="+loopback.Addr(s.udp), "VIGIL_RTSP_UDP_RTCP_ADDR="+loopback.Addr(s.udp+1),
		"VIGIL_ADMIN_PASSWORD="+s.adminPW, "VIGIL_TRUSTED_PROXIES=127.0.0.1/32", "VIGIL_MUTANT="+s.mutant, "VIGIL_OAUTH_CLIENTS="+googleClients(s.googleSecret),
		// Every simulated camera connects from 127.0.0.1: the per-address
		// RTSP cap would refuse the households, not strangers (HTTP requests
		// name their household in X-Forwarded-For, and a trusted proxy's
		// connections are not capped).
		"VIGIL_RTSP_MAX_CONNS_PER_ADDRESS=1000000")
	return env
}

// cli runs a vigil subcommand on the data directory and decodes its JSON.
func (s *server) cli(ctx context.Context, out any, args ...string) error {
	cmd := exec.CommandContext(ctx, s.bin, args...)
	cmd.Env = s.env()
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

// start runs `vigil serve` and waits until it is healthy. The first start
// may find a port taken by another test since newServer picked it: then it
// picks new ports and tries again.
func (s *server) start(ctx context.Context) error {
	for attempt := 1; ; attempt++ {
		err := s.startOnce(ctx)
		s.mu.Lock()
		first := s.restarts == 0
		s.mu.Unlock()
		if !errors.Is(err, errExited) || !first || attempt == 3 {
			return err
		}
		if err := s.newPorts(); err != nil {
			return err
		}
	}
}

// errExited: vigil exited before it became healthy (a port in use, say).
var errExited = errors.New("vigil exited before it was healthy")

func (s *server) startOnce(ctx context.Context) error {
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("vigil log: %w", err)
	}
	defer logf.Close() // the child keeps its own descriptor
	cmd := exec.Command(s.bin, "serve")
	cmd.Env = s.env()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start vigil: %w", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-exited:
			cancel()
		case <-wctx.Done():
		}
	}()
	if err := loopback.WaitOK(wctx, "http://"+s.http+"/healthz", 60*time.Second); err != nil {
		select {
		case <-exited:
			return fmt.Errorf("%w; see %s", errExited, s.logPath)
		default:
		}
		return fmt.Errorf("vigil not healthy: %w; see %s", err, s.logPath)
	}
	return nil
}

// newPorts picks fresh loopback ports.
func (s *server) newPorts() error {
	ports, err := loopback.TCPPorts(2)
	if err != nil {
		return err
	}
	udp, err := loopback.UDPPair()
	if err != nil {
		return err
	}
	s.rtsp, s.http, s.udp = loopback.Addr(ports[0]), loopback.Addr(ports[1]), udp
	return nil
}

// kill9 kills the process without warning and reaps it.
func (s *server) kill9() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-exited
}

// restart is kill -9 and start: a crash under load.
func (s *server) restart(ctx context.Context) error {
	s.kill9()
	s.mu.Lock()
	s.restarts++
	s.mu.Unlock()
	return s.start(ctx)
}

// violations reads vigil_isolation_violations_total of the running process.
func (s *server) violations(ctx context.Context) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.http+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	req.SetBasicAuth("admin", s.adminPW)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("metrics: %s", res.Status)
	}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "vigil_isolation_violations_total "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, errors.New("metrics: vigil_isolation_violations_total missing")
}

// logLines returns the lines of Vigil's log that contain substr.
func (s *server) logLines(substr string) []string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return out
}

// Client addresses. Every request of the canary reaches Vigil from
// loopback (through toxiproxy), so each names the client it stands for in
// X-Forwarded-For, which Vigil believes from 127.0.0.1 (trusted_proxies;
// a Vigil that has no such setting ignores both): a user's household has
// an address of its own, and a credential attacker another. Otherwise one
// address would carry everybody's failed sign-ins, and the attacks the
// canary makes would lock its own households out.
func householdAddr(user int) string { return fmt.Sprintf("10.0.%d.%d", user/250, user%250+1) }

func attackerAddr(n int) string { return fmt.Sprintf("198.51.100.%d", n%254+1) }

// forwardedFor is the header naming the client a request stands for.
const forwardedFor = "X-Forwarded-For"

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
