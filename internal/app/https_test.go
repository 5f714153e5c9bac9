package app

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vigil/internal/certs"
	"vigil/internal/config"
	"vigil/internal/rtsp"
)

// TestHTTPSClientsWithAndWithoutALPNSeeTLS: on the HTTPS port's listener
// as the app builds it (the certificate manager's TLS configuration, the
// record batcher, sorting by ALPN or first line, keepTLSState), a request
// reaches its handler with r.TLS set whether the client negotiated h2,
// http/1.1 or nothing at all (sorted by its first line, so net/http sees
// a wrapped connection, not a *tls.Conn), and h2 is served as HTTP/2.
func TestHTTPSClientsWithAndWithoutALPNSeeTLS(t *testing.T) {
	tl, addr, pool := httpsPort(t)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s tls=%v", r.Proto, r.TLS != nil && r.TLS.HandshakeComplete)
	})}
	keepTLSState(srv)
	l := newSplitListener(tl, func(c net.Conn) { c.Close() }, 5*time.Second)
	go srv.Serve(l)
	defer srv.Close()

	for _, tc := range []struct {
		alpn []string
		want string
	}{
		{nil, "HTTP/1.1 tls=true"},
		{[]string{"http/1.1"}, "HTTP/1.1 tls=true"},
	} {
		if got := rawHTTPSGet(t, addr, pool, tc.alpn); got != tc.want {
			t.Errorf("a client offering ALPN %q got %q, want %q", tc.alpn, got, tc.want)
		}
	}
	h2 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	res, err := h2.Get("https://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if got := string(body); got != "HTTP/2.0 tls=true" {
		t.Errorf("Go's HTTP/2 client got %q, want HTTP/2.0 over TLS", got)
	}
}

// startHTTPSApp starts an app with tls: files (a self-signed certificate
// for 127.0.0.1, whose path it returns) on loopback ports.
func startHTTPSApp(t *testing.T) (*testApp, string) {
	t.Helper()
	certPath, keyPath, _ := selfSigned(t, t.TempDir())
	a := startApp(t, "", func(c *config.Config) {
		c.TLS, c.TLSCertFile, c.TLSKeyFile = config.TLSFiles, certPath, keyPath
		c.HTTPSAddr, c.RTSPSAddr = "127.0.0.1:0", "127.0.0.1:0"
	})
	return a, certPath
}

// httpsPort is a TLS listener on loopback as the app builds its HTTPS
// port's (the certificate manager's configuration over a self-signed
// certificate, the record batcher), its address and a pool trusting it.
func httpsPort(t *testing.T) (net.Listener, string, *x509.CertPool) {
	t.Helper()
	certPath, keyPath, pool := selfSigned(t, t.TempDir())
	m, err := certs.New(certs.Config{CertFile: certPath, KeyFile: keyPath})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return rtsp.TLSListener(raw, m.TLSConfig()), raw.Addr().String(), pool
}

// rawHTTPSGet sends one HTTP/1.1 GET over TLS offering alpn and returns
// the body.
func rawHTTPSGet(t *testing.T, addr string, pool *x509.CertPool, alpn []string) string {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, NextProtos: alpn})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+addr+"\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

// TestLiveMP4OverHTTP2WithCurl: with tls: files, curl --http2 negotiates
// HTTP/2 with Vigil and plays a camera's live.mp4 (a long response with
// write deadlines), whose first frame carries that camera's stamp; curl
// without ALPN is served HTTP/1.1 on the same port.
func TestLiveMP4OverHTTP2WithCurl(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is missing: run scripts/deps.sh")
	}
	a, certPath := startHTTPSApp(t)
	porch := a.addCamera(t, "porch")
	a.run(t, porch)
	base := "https://" + a.HTTPAddr().String()
	curl := func(out string, args ...string) (version string, err error) {
		args = append([]string{"-s", "--cacert", certPath, "-u", AdminName + ":" + adminPassword,
			"-o", out, "-w", "%{http_version} %{http_code}"}, args...)
		b, err := exec.Command("curl", args...).Output()
		return string(b), err
	}
	mp4 := filepath.Join(t.TempDir(), "live.mp4")
	got, err := curl(mp4, "--http2", "--max-time", "3", base+"/api/cameras/"+porch.ID+"/live.mp4")
	if ee, ok := err.(*exec.ExitError); err != nil && !(ok && ee.ExitCode() == 28) { // 28: --max-time ran out, as it must
		t.Fatalf("curl --http2 live.mp4: %v", err)
	}
	if got != "2 200" {
		t.Fatalf("curl --http2 live.mp4: %q, want HTTP/2 and 200", got)
	}
	f, err := os.Open(mp4)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := firstMdatStamp(bufio.NewReader(f))
	if err != nil || st.Camera != porch.ID {
		t.Fatalf("live.mp4 over HTTP/2: first stamp %+v, %v; want %s's", st, err, porch.ID)
	}
	if got, err := curl(os.DevNull, "--no-alpn", base+"/healthz"); err != nil || !strings.HasPrefix(got, "1.1 ") {
		t.Fatalf("curl --no-alpn: %q, %v; want HTTP/1.1", got, err)
	}
}

// TestRTSPOnTheHTTPSPortFramesInOneWrite: an RTSP client sorted on the
// HTTPS port by its first line reaches the RTSP server as a peekedConn;
// the RTSP server's frames still leave in one write through the record
// batcher under its TLS (rtsp finds it through NetConn).
func TestRTSPOnTheHTTPSPortFramesInOneWrite(t *testing.T) {
	tl, addr, pool := httpsPort(t)
	sorted := make(chan net.Conn, 1)
	l := newSplitListener(tl, func(c net.Conn) { sorted <- c }, 5*time.Second)
	defer l.Close()
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "OPTIONS rtsp://127.0.0.1/ RTSP/1.0\r\nCSeq: 1\r\n\r\n")
	select {
	case sc := <-sorted:
		defer sc.Close()
		if !rtsp.Batched(sc) {
			t.Fatal("the RTSP connection sorted on the HTTPS port has no record batcher under its TLS")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the RTSP request line was not sorted to RTSP")
	}
}
