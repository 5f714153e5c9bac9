package app

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"vigil/internal/config"
)

// TestSilentConnectionsClosedOnEveryListener: a client that connects and
// says nothing — before TLS, after a TLS handshake with or without ALPN,
// on the HTTPS, RTSPS, plain RTSP and the http_addr redirect ports — is
// closed within the timeout of the stage it stopped at (the redirect port
// kept a fixed 10 s before); an HTTP/2 client that never sends its
// preface, within net/http's fixed 10 s; and headers over net/http's
// 1 MiB are refused with 431 rather than read on.
func TestSilentConnectionsClosedOnEveryListener(t *testing.T) {
	const timeout = 300 * time.Millisecond
	certPath, keyPath, pool := selfSigned(t, t.TempDir())
	a := startApp(t, "", func(c *config.Config) {
		c.TLS, c.TLSCertFile, c.TLSKeyFile = config.TLSFiles, certPath, keyPath
		c.HTTPSAddr, c.RTSPSAddr = "127.0.0.1:0", "127.0.0.1:0"
		c.HTTPReadHeaderTimeout, c.HTTPIdleTimeout, c.HTTPBodyTimeout = timeout, timeout, timeout
		c.RTSPFirstRequestTimeout, c.ReadTimeout = timeout, timeout
	})
	dial := func(addr string) net.Conn {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	handshake := func(addr string, alpn ...string) net.Conn {
		c := tls.Client(dial(addr), &tls.Config{RootCAs: pool, ServerName: "localhost", NextProtos: alpn})
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if err := c.Handshake(); err != nil {
			t.Fatalf("handshake with %s: %v", addr, err)
		}
		if got := c.ConnectionState().NegotiatedProtocol; len(alpn) > 0 && got != alpn[0] {
			t.Fatalf("ALPN %q, want %q", got, alpn[0])
		}
		c.SetDeadline(time.Time{})
		return c
	}
	https, rtsps := a.HTTPAddr().String(), a.RTSPSAddr().String()
	h2 := handshake(https, "h2")
	h2Start := time.Now()
	for _, c := range []struct {
		name string
		conn net.Conn
	}{
		{"HTTPS port, before TLS", dial(https)},
		{"HTTPS port, after TLS with http/1.1", handshake(https, "http/1.1")},
		{"HTTPS port, after TLS without ALPN", handshake(https)},
		{"RTSPS port, before TLS", dial(rtsps)},
		{"RTSPS port, after TLS", handshake(rtsps)},
		{"plain RTSP port", dial(a.RTSPAddr().String())},
		{"redirect port", dial(a.RedirectAddr().String())},
	} {
		start := time.Now()
		if !closedWithin(c.conn, 5*time.Second) {
			t.Errorf("%s: a silent connection was kept open past 5 s (timeouts %v)", c.name, timeout)
		} else if d := time.Since(start); testing.Verbose() {
			t.Logf("%s: closed after %v", c.name, d)
		}
	}

	if !closedWithin(h2, 12*time.Second-time.Since(h2Start)) {
		t.Error("HTTPS port, after TLS with h2: a silent connection was kept open past net/http's 10 s preface timeout")
	}

	big := handshake(https, "http/1.1")
	big.SetDeadline(time.Now().Add(10 * time.Second))
	go io.WriteString(big, "GET /healthz HTTP/1.1\r\nHost: vigil\r\nX-Big: "+strings.Repeat("a", 2<<20)+"\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(big), nil)
	if err != nil || res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("a 2 MiB header: %v %v, want 431", res, err)
	}
}

// TestTLSConnectionsCappedPerAddress: the per-address caps hold on the
// TLS ports too, before any handshake: past the cap, a connection from one
// address to the HTTPS or the RTSPS port is closed unanswered while
// another address still completes its handshake on both.
func TestTLSConnectionsCappedPerAddress(t *testing.T) {
	const capacity = 3
	certPath, keyPath, pool := selfSigned(t, t.TempDir())
	a := startApp(t, "", func(c *config.Config) {
		c.TLS, c.TLSCertFile, c.TLSKeyFile = config.TLSFiles, certPath, keyPath
		c.HTTPSAddr, c.RTSPSAddr = "127.0.0.1:0", "127.0.0.1:0"
		c.HTTPMaxConnsPerAddress, c.RTSPMaxConnsPerAddress = capacity, capacity
	})
	dialFrom := func(from, addr string) net.Conn {
		c, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}).Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	for _, addr := range []string{a.HTTPAddr().String(), a.RTSPSAddr().String()} {
		held := make([]net.Conn, capacity)
		for i := range held {
			held[i] = dialFrom("127.0.0.1", addr)
		}
		// Each port accepts in order: the fourth comes after the three.
		if over := dialFrom("127.0.0.1", addr); !closedWithin(over, 3*time.Second) {
			t.Errorf("%s: connection %d from one address was kept open (cap %d)", addr, capacity+1, capacity)
		}
		for i, c := range held {
			c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			if _, err := c.Read(make([]byte, 1)); !isTimeout(err) {
				t.Errorf("%s: connection %d within the cap was closed: %v", addr, i+1, err)
			}
		}
		other := tls.Client(dialFrom("127.0.0.2", addr), &tls.Config{RootCAs: pool, ServerName: "localhost"})
		other.SetDeadline(time.Now().Add(5 * time.Second))
		if err := other.Handshake(); err != nil {
			t.Errorf("%s: another address could not connect: %v", addr, err)
		}
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
