package tcppath

import (
	"bytes"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// server answers each connection with size bytes once it has read a byte.
func server(t *testing.T, size int) (string, []byte) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	body := make([]byte, size)
	for i := range body {
		body[i] = byte(i * 7)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := c.Read(make([]byte, 1)); err != nil {
					return
				}
				_, _ = c.Write(body)
			}()
		}
	}()
	return ln.Addr().String(), body
}

// poorServer is a server of size bytes behind a link of 100 KB/s and 150 ms.
func poorServer(t *testing.T, size int) (string, []byte) {
	up, body := server(t, size)
	l, err := Listen(up, Shape{RateKB: 100, Latency: 150 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.Addr(), body
}

// fetch asks through the link and returns the answer, when its first byte
// came and when its last did, from the request.
func fetch(t *testing.T, addr string) (body []byte, first, last time.Duration) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Error(err)
		return nil, 0, 0
	}
	defer c.Close()
	start := time.Now()
	if _, err := c.Write([]byte{1}); err != nil {
		t.Error(err)
		return nil, 0, 0
	}
	buf := make([]byte, 64<<10)
	var out bytes.Buffer
	for {
		n, err := c.Read(buf)
		if n > 0 && out.Len() == 0 {
			first = time.Since(start)
		}
		out.Write(buf[:n])
		if err == io.EOF {
			return out.Bytes(), first, time.Since(start)
		}
		if err != nil {
			t.Error(err)
			return nil, 0, 0
		}
	}
}

// TestLinkDelaysAndPaces: one answer of 50 KB at 100 KB/s and 150 ms comes
// whole, its first byte after the latency, its last after the latency and
// its transfer time, not sooner. The upper bounds tell the link's faults
// apart from a loaded machine's lateness: an answer held back and sent at
// once has its first byte about as late as its last (at ~165 ms and
// ~650 ms here, the first is a quarter of the way), and the latency paid
// per packet (some 34 of them) would take over 5 s.
func TestLinkDelaysAndPaces(t *testing.T) {
	addr, body := poorServer(t, 50_000)
	got, first, last := fetch(t, addr)
	if !bytes.Equal(got, body) {
		t.Fatalf("got %d bytes, not the %d sent", len(got), len(body))
	}
	// An idle link lets its first packet go as if it had been sent
	// lateness ago: it arrives after the latency and its own transfer time
	// (1460 bytes at 100 KB/s) less that.
	if earliest := 150*time.Millisecond + 14600*time.Microsecond - lateness; first < earliest || first > last/2 {
		t.Errorf("first byte after %v, last after %v: want the latency (150 ms) and a packet, well before the last", first, last)
	}
	if last < 600*time.Millisecond || last > 2500*time.Millisecond {
		t.Errorf("last byte after %v, want 150 ms + 500 ms", last)
	}
}

// TestLinkRateIsShared: three answers of 50 KB at once share 100 KB/s:
// each takes about the time of all three (1.5 s), where a cap per
// connection (toxiproxy's bandwidth toxic) delivered each in 0.5 s.
func TestLinkRateIsShared(t *testing.T) {
	addr, body := poorServer(t, 50_000)
	var wg sync.WaitGroup
	lasts := make([]time.Duration, 3)
	for i := range lasts {
		wg.Go(func() {
			got, _, last := fetch(t, addr)
			if !bytes.Equal(got, body) {
				t.Errorf("got %d bytes, not the %d sent", len(got), len(body))
			}
			lasts[i] = last
		})
	}
	wg.Wait()
	for i, last := range lasts {
		// Turns packet by packet: each ends near the end of all three.
		if last < 1400*time.Millisecond {
			t.Errorf("answer %d ended after %v: faster than the shared rate allows (3 × 50 KB at 100 KB/s is 1.5 s)", i, last)
		}
	}
}
