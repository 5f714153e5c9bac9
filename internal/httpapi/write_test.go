package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"testing/fstest"
	"time"
)

// TestNeverReadingClientCutOff: a client that asks for a response larger
// than the socket buffers and then reads nothing is cut off once a write
// has waited WriteTimeout — any response, not only media — instead of
// holding the handler's goroutine for as long as its receive window stays
// shut. The buffers are made small at both ends (on loopback the kernel
// otherwise gives the server megabytes of send buffer).
func TestNeverReadingClientCutOff(t *testing.T) {
	const size = 2 << 20
	small := func(opt int) func(_, _ string, c syscall.RawConn) error {
		return func(_, _ string, c syscall.RawConn) error {
			return c.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, opt, 4096) })
		}
	}
	l, err := (&net.ListenConfig{Control: small(syscall.SO_SNDBUF)}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := Handler(Config{UI: fstest.MapFS{"index.html": {Data: bytes.Repeat([]byte("<p>"), size/3)}},
		WriteTimeout: 300 * time.Millisecond})
	done := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		h.ServeHTTP(w, r)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })

	c, err := (&net.Dialer{Control: small(syscall.SO_RCVBUF)}).Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: vigil\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	select { // reading nothing meanwhile
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the handler was still writing to a client that read nothing 10 s later (write timeout 300 ms)")
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return // cut off before the headers
	}
	if n, err := io.Copy(io.Discard, res.Body); err == nil {
		t.Fatalf("all %d bytes were sent to a client that read nothing, want the response cut off", n)
	}
}
