package ingest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"vigil/internal/hub"
	"vigil/internal/testkit"
)

// hostileCamera listens on loopback and answers every connection with
// answer; it counts connections and the bytes answer wrote.
type hostileCamera struct {
	addr    string
	conns   atomic.Int64
	written atomic.Int64
}

func startHostileCamera(t *testing.T, answer func(c net.Conn, br *bufio.Reader, written *atomic.Int64)) *hostileCamera {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	h := &hostileCamera{addr: l.Addr().String()}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			h.conns.Add(1)
			go func() {
				defer c.Close()
				answer(c, bufio.NewReader(c), &h.written)
			}()
		}
	}()
	return h
}

// TestPullFromHostileCamera: a camera that never answers, one whose
// answer's header never ends and one that announces a gigabyte of SDP
// each cost the puller a bounded wait and a bounded read, and it keeps
// reconnecting (with its backoff) rather than hang on one of them.
func TestPullFromHostileCamera(t *testing.T) {
	const readTimeout = 300 * time.Millisecond
	for _, c := range []struct {
		name   string
		answer func(c net.Conn, br *bufio.Reader, written *atomic.Int64)
	}{
		{"silent", func(c net.Conn, br *bufio.Reader, _ *atomic.Int64) {
			c.SetReadDeadline(time.Now().Add(time.Minute))
			for {
				if _, err := br.ReadString('\n'); err != nil {
					return
				}
			}
		}},
		{"endless header", func(c net.Conn, br *bufio.Reader, written *atomic.Int64) {
			br.ReadString('\n')
			c.Write([]byte("RTSP/1.0 200 OK\r\nCSeq: 1\r\nX-Endless: "))
			flood(c, bytes.Repeat([]byte("a"), 64<<10), written)
		}},
		{"gigabyte of SDP", func(c net.Conn, br *bufio.Reader, written *atomic.Int64) {
			req, _ := br.ReadString('\n')
			for {
				l, err := br.ReadString('\n')
				if err != nil || strings.TrimSpace(l) == "" {
					break
				}
				if strings.HasPrefix(l, "CSeq:") {
					req = l
				}
			}
			c.Write([]byte("RTSP/1.0 200 OK\r\n" + req + "Content-Type: application/sdp\r\nContent-Length: 1000000000\r\n\r\nv=0\r\n"))
			flood(c, bytes.Repeat([]byte("a=x\r\n"), 10<<10), written)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cam := startHostileCamera(t, c.answer)
			p, err := NewPuller(PullerConfig{Hub: hub.New(hub.Config{Logger: slog.New(slog.DiscardHandler)}), Device: "cam-hostile",
				Stream: "main", Source: "rtsp://u:p@" + cam.addr + "/main", MinBackoff: 50 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
				ReadTimeout: readTimeout, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { p.Run(ctx); close(done) }()
			defer func() { cancel(); <-done }()
			testkit.WaitFor(t, 10*time.Second, "three connection attempts", func() error {
				if n := cam.conns.Load(); n < 3 {
					return fmt.Errorf("%d connections so far", n)
				}
				return nil
			})
			t.Logf("%d connections, %d bytes written", cam.conns.Load(), cam.written.Load())
			if w := cam.written.Load(); w > 3*(16<<20) {
				t.Errorf("the puller read %d bytes of three answers that never end", w)
			}
		})
	}
}

// flood writes chunk to c again and again, counting into written, until
// a gigabyte has gone or the puller stops taking it for 5 s.
func flood(c net.Conn, chunk []byte, written *atomic.Int64) {
	for written.Load() < 1<<30 {
		c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		n, err := c.Write(chunk)
		written.Add(int64(n))
		if err != nil {
			return
		}
	}
}
