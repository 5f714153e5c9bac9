package app

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"vigil/internal/config"
	"vigil/internal/testkit"
)

// closedWithin reports whether the server closes c within d, reading and
// dropping whatever it sends first (a 400 for a body that never came).
func closedWithin(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

func dialHTTP(t *testing.T, a *testApp, control func(network, address string, c syscall.RawConn) error) net.Conn {
	t.Helper()
	c, err := (&net.Dialer{Control: control}).Dial("tcp", a.HTTPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestIdleAndTricklingHTTPConnectionsClosed: a keep-alive connection with
// no next request, a body that stops half way, headers that stop half
// way and a connection that sends nothing are each closed within their
// timeouts.
func TestIdleAndTricklingHTTPConnectionsClosed(t *testing.T) {
	const timeout = 300 * time.Millisecond
	a := startApp(t, "", func(c *config.Config) {
		c.HTTPIdleTimeout, c.HTTPBodyTimeout, c.HTTPReadHeaderTimeout = timeout, timeout, timeout
	})
	idle := dialHTTP(t, a, nil)
	if _, err := io.WriteString(idle, "GET /healthz HTTP/1.1\r\nHost: vigil\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(idle)
	res, err := http.ReadResponse(br, nil)
	if err != nil || res.StatusCode != 200 || res.Close {
		t.Fatalf("health over keep-alive: %v %v", res, err)
	}
	io.Copy(io.Discard, res.Body)

	body := dialHTTP(t, a, nil)
	io.WriteString(body, "POST /api/login HTTP/1.1\r\nHost: vigil\r\nContent-Type: application/json\r\n"+
		"Content-Length: 1000\r\n\r\n{\"name\":\"adm")
	header := dialHTTP(t, a, nil)
	io.WriteString(header, "GET /healthz HTTP/1.1\r\nHost: vig")
	silent := dialHTTP(t, a, nil)

	for _, c := range []struct {
		name string
		conn net.Conn
	}{{"an idle keep-alive connection", idle}, {"a trickled body", body}, {"trickled headers", header}, {"a connection that sends nothing", silent}} {
		if !closedWithin(c.conn, 10*time.Second) {
			t.Errorf("%s was kept open (timeouts %v)", c.name, timeout)
		}
	}
}

// TestNeverReadingMP4ViewerDropped: a live.mp4 viewer that reads nothing
// is dropped once a write has waited the write timeout, and counted.
func TestNeverReadingMP4ViewerDropped(t *testing.T) {
	a := startApp(t, "", func(c *config.Config) { c.WriteTimeout = time.Second })
	cam := a.addCamera(t, "busy")
	cam.Width, cam.Height, cam.FPS, cam.GOP = 640, 480, 15, 15 // ~3.7 Mbit/s: the socket buffers fill in seconds
	a.run(t, cam)

	small := func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}
	viewer := dialHTTP(t, a, small)
	req, _ := http.NewRequest("GET", a.url("/api/cameras/"+cam.ID+"/live.mp4"), nil)
	req.SetBasicAuth(AdminName, adminPassword)
	if err := req.Write(viewer); err != nil {
		t.Fatal(err)
	}
	// The drop counter only grows: once it has, the open gauge must fall.
	testkit.WaitFor(t, 90*time.Second, "drop of a viewer that reads nothing", func() error {
		if metricSum(t, a, "vigil_viewers_dropped_total") == 0 {
			return fmt.Errorf("not dropped (%v open)", metricSum(t, a, "vigil_http_viewers"))
		}
		if metricSum(t, a, "vigil_http_viewers") != 0 {
			return errors.New("the dropped viewer still counts as open")
		}
		return nil
	})
}

// TestLongLivedOutputsCappedPerUser: a user with the allowed number of
// live.mp4 and MJPEG responses open gets 429 with Retry-After for one
// more, and may open one again once one ends.
func TestLongLivedOutputsCappedPerUser(t *testing.T) {
	a := startApp(t, "", func(c *config.Config) { c.HTTPMaxOutputsPerUser = 2 })
	cam := a.addCamera(t, "watched")
	a.run(t, cam)
	open := func(output string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", a.url("/api/cameras/"+cam.ID+"/"+output), nil)
		req.SetBasicAuth(AdminName, adminPassword)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { res.Body.Close() })
		return res
	}
	first, second := open("live.mp4"), open("mjpeg")
	if first.StatusCode != 200 || second.StatusCode != 200 {
		t.Fatalf("the first two outputs: %d, %d", first.StatusCode, second.StatusCode)
	}
	for _, output := range []string{"live.mp4", "mjpeg"} {
		res := open(output)
		var msg []byte
		if res.StatusCode != 200 { // a 200 is a stream that never ends
			msg, _ = io.ReadAll(res.Body)
		}
		if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" ||
			!strings.Contains(string(msg), "too many live views") {
			t.Errorf("a third output (%s): %d Retry-After %q %q, want 429 saying why", output,
				res.StatusCode, res.Header.Get("Retry-After"), msg)
		}
	}
	first.Body.Close()
	testkit.WaitFor(t, 10*time.Second, "another output after one ended", func() error {
		res := open("live.mp4")
		if res.StatusCode == 200 {
			return nil
		}
		res.Body.Close()
		return fmt.Errorf("still refused: %d", res.StatusCode)
	})
}

// TestStillDecodeTimeoutIs503: a keyframe decode that outlives the decode
// timeout answers 503 with Retry-After, not 404 "no such camera".
func TestStillDecodeTimeoutIs503(t *testing.T) {
	dir := t.TempDir()
	hung := filepath.Join(dir, "ffmpeg")
	if err := os.WriteFile(hung, []byte("#!/bin/sh\nexec sleep 60\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	a := startApp(t, "", nil)
	cam := a.addCamera(t, "undecodable")
	a.run(t, cam)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", a.url("/api/cameras/"+cam.ID+"/still.jpg"), nil)
	req.SetBasicAuth(AdminName, adminPassword)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	msg, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
		t.Fatalf("a still whose decode timed out: %d Retry-After %q %q, want 503 with Retry-After",
			res.StatusCode, res.Header.Get("Retry-After"), msg)
	}
}

// TestHTTPConnectionsCappedPerAddress: past the cap, a connection from one
// address is closed unanswered while another address is served.
func TestHTTPConnectionsCappedPerAddress(t *testing.T) {
	a := startApp(t, "", func(c *config.Config) { c.HTTPMaxConnsPerAddress = 3 })
	health := func(c net.Conn) error {
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: vigil\r\n\r\n"); err != nil {
			return err
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return err
		}
		res.Body.Close()
		return nil
	}
	for i := range 3 {
		if err := health(dialHTTP(t, a, nil)); err != nil {
			t.Fatalf("connection %d within the cap: %v", i+1, err)
		}
	}
	if err := health(dialHTTP(t, a, nil)); err == nil {
		t.Error("a fourth connection from one address was served")
	}
	other, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}).Dial("tcp", a.HTTPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := health(other); err != nil {
		t.Errorf("a connection from another address was refused: %v", err)
	}
	if n := metricSum(t, a, "vigil_connections_refused_total"); n != 1 {
		t.Errorf("refused connections counted %v, want 1", n)
	}
	if n := metricLabelled(t, a, "vigil_connections_refused_total", "port", "http", "reason", refusedPerAddress); n != 1 {
		t.Errorf("refused connections counted %v under port http, reason %s, want 1", n, refusedPerAddress)
	}
}

// TestOversizedRTSPFirstRequestCounted: an RTSP connection closed for
// sending more than 256 KiB before its first request (here an
// RTSP-over-HTTP tunnel's request line that never ends) is counted under
// its own reason beside the per-address refusals.
func TestOversizedRTSPFirstRequestCounted(t *testing.T) {
	a := startApp(t, "", nil)
	c, err := net.DialTimeout("tcp", a.RTSPAddr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go func() {
		c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, "GET /"+strings.Repeat("a", 512<<10))
	}()
	if !closedWithin(c, 10*time.Second) {
		t.Fatal("an RTSP connection that sent 512 KiB of one request line was kept open")
	}
	testkit.WaitFor(t, 5*time.Second, "the refusal counted", func() error {
		if n := metricLabelled(t, a, "vigil_connections_refused_total", "port", "rtsp", "reason", refusedFirstRequest); n != 1 {
			return fmt.Errorf("counted %v under port rtsp, reason %s, want 1", n, refusedFirstRequest)
		}
		return nil
	})
}

// metricLabelled is the value of the counter or gauge name whose labels
// include the name, value pairs kv (0 if there is none).
func metricLabelled(t *testing.T, a *testApp, name string, kv ...string) float64 {
	t.Helper()
	mfs, err := a.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for i := 0; i+1 < len(kv); i += 2 {
				if have[kv[i]] != kv[i+1] {
					continue metrics
				}
			}
			return m.GetGauge().GetValue() + m.GetCounter().GetValue() // one of them is set
		}
	}
	return 0
}
