package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"vigil/internal/loopback"
)

// device is a camera provisioned in Vigil's data directory.
type device struct {
	ID       string `json:"id"`
	Password string `json:"password"`
}

// provision adds n cameras with `vigil device add` before Vigil starts.
func provision(ctx context.Context, bin, dataDir string, n int) ([]device, error) {
	devs := make([]device, 0, n)
	for i := range n {
		cmd := exec.CommandContext(ctx, bin, "device", "add", "--name", fmt.Sprintf("bench-%d", i+1), "--json")
		cmd.Env = append(os.Environ(), "VIGIL_DATA_DIR="+dataDir)
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("vigil device add: %w", err)
		}
		var d device
		if err := json.Unmarshal(out, &d); err != nil || d.ID == "" {
			return nil, fmt.Errorf("vigil device add: bad output %q: %v", out, err)
		}
		devs = append(devs, d)
	}
	return devs, nil
}

// vigil is a running `vigil serve` on loopback.
type vigil struct {
	cmd     *exec.Cmd
	pid     int
	rtsp    string // host:port
	http    string // host:port
	adminPW string
	logPath string
	// base is where the API answers: http://http, or https:// when the
	// TLS scenario turns TLS on (http then only redirects).
	base string
}

// startVigil runs bin serve on free loopback ports, with env added to its
// environment, and waits for /healthz.
func startVigil(ctx context.Context, bin, dataDir, logPath string, env ...string) (*vigil, error) {
	ports, err := loopback.TCPPorts(2)
	if err != nil {
		return nil, err
	}
	rtp, err := loopback.UDPPair()
	if err != nil {
		return nil, err
	}
	pw := randomHex(16)
	v := &vigil{rtsp: loopback.Addr(ports[0]), http: loopback.Addr(ports[1]), adminPW: pw, logPath: logPath}
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child keeps its own descriptor
	v.cmd = exec.Command(bin, "serve")
	v.cmd.Env = append(os.Environ(), "VIGIL_DATA_DIR="+dataDir,
		"VIGIL_RTSP_ADDR="+v.rtsp, "VIGIL_HTTP_ADDR="+v.http,
		"VIGIL_RTSP_UDP_RTP_ADDR="+loopback.Addr(rtp), "VIGIL_RTSP_UDP_RTCP_ADDR="+loopback.Addr(rtp+1),
		"VIGIL_ADMIN_PASSWORD="+pw)
	// Every simulated camera and reader connects from 127.0.0.1, and the
	// readers are all the admin: the per-address and per-user caps would
	// cap the bench, not measure Vigil.
	v.cmd.Env = append(v.cmd.Env, "VIGIL_RTSP_MAX_CONNS_PER_ADDRESS=1000000", "VIGIL_HTTP_MAX_CONNS_PER_ADDRESS=1000000",
		"VIGIL_HTTP_MAX_OUTPUTS_PER_USER=1000000")
	v.cmd.Env = append(v.cmd.Env, env...)
	v.cmd.Stdout, v.cmd.Stderr = logf, logf
	if err := v.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start vigil: %w", err)
	}
	v.pid = v.cmd.Process.Pid
	if err := v.waitHealthy(ctx, 20*time.Second); err != nil {
		v.stop()
		return nil, fmt.Errorf("%w; log tail:\n%s", err, tail(logPath, 20))
	}
	return v, nil
}

// waitHealthy waits for /healthz; with TLS on it follows the redirect to
// https, whose self-signed certificate it does not check.
func (v *vigil) waitHealthy(ctx context.Context, limit time.Duration) error {
	c := &http.Client{Transport: insecureTLS(&http.Transport{}), Timeout: 2 * time.Second}
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if res, err := c.Get("http://" + v.http + "/healthz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("http://%s/healthz not 200 OK after %s", v.http, limit)
}

// stop sends SIGTERM and waits up to 15 s before killing.
func (v *vigil) stop() {
	v.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { v.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		v.cmd.Process.Kill()
		<-done
	}
}

// pushURL is where camera d publishes.
func (v *vigil) pushURL(d device) string {
	u := url.URL{Scheme: "rtsp", Host: v.rtsp, Path: "/" + d.ID, User: url.UserPassword(d.ID, d.Password)}
	return u.String()
}

// readURL is where the admin reads camera d.
func (v *vigil) readURL(d device) string {
	u := url.URL{Scheme: "rtsp", Host: v.rtsp, Path: "/" + d.ID, User: url.UserPassword("admin", v.adminPW)}
	return u.String()
}

// Metric names scraped from /metrics.
const (
	metricSkips = "vigil_reader_skips_total"
	metricAlloc = "go_memstats_alloc_bytes_total"
	metricGCs   = "go_gc_duration_seconds_count"
)

// scrape returns the sums of the skips, allocation and GC counters.
func (v *vigil) scrape(ctx context.Context) (map[string]float64, error) {
	base := v.base
	if base == "" {
		base = "http://" + v.http
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth("admin", v.adminPW)
	res, err := (&http.Client{Transport: insecureTLS(&http.Transport{})}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("metrics: %s", res.Status)
	}
	return sumMetrics(bufio.NewScanner(res.Body), metricSkips, metricAlloc, metricGCs)
}

// sumMetrics adds up the samples of each named metric in Prometheus text
// format; a metric with no samples is absent from the map.
func sumMetrics(sc *bufio.Scanner, names ...string) (map[string]float64, error) {
	sums := map[string]float64{}
	for sc.Scan() {
		line := sc.Text()
		for _, name := range names {
			rest, ok := strings.CutPrefix(line, name)
			if !ok || rest == "" || (rest[0] != '{' && rest[0] != ' ') {
				continue
			}
			f := strings.Fields(line)
			x, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err != nil {
				return nil, fmt.Errorf("metrics: %q: %w", line, err)
			}
			sums[name] += x
		}
	}
	return sums, sc.Err()
}

// logLevels counts WARN, ERROR and unstructured lines in Vigil's log, with
// a sample line.
func logLevels(path string) (warn, errs, other int, sample string) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, 0, ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case !strings.Contains(line, "level="):
			other++
			if sample == "" {
				sample = line
			}
		case strings.Contains(line, "level=ERROR"):
			errs++
			sample = line
		case strings.Contains(line, "level=WARN"):
			warn++
			if sample == "" {
				sample = line
			}
		}
	}
	return warn, errs, other, sample
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
