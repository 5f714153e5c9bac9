package rtsp

import (
	"bytes"
	"net"
	"sync"
	"testing"
	"time"
)

// countingConn records each Write call.
type countingConn struct {
	net.Conn
	mu     sync.Mutex
	writes [][]byte
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes = append(c.writes, bytes.Clone(p))
	return len(p), nil
}

func (c *countingConn) Close() error { return nil }

func (c *countingConn) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.writes)
}

func interleaved(marker bool, size int) []byte {
	p := make([]byte, 4+12+size)
	p[0], p[1], p[2], p[3] = '$', 0, byte((12+size)>>8), byte(12+size)
	p[4] = 2 << 6
	if marker {
		p[5] = 0x80 | 96
	} else {
		p[5] = 96
	}
	return p
}

func TestFramedConnWritesAFramePerCall(t *testing.T) {
	c := &countingConn{}
	f := newFramedConn(c)
	var want []byte
	for i := range 10 {
		p := interleaved(i == 9, 1400)
		want = append(want, p...)
		if n, err := f.Write(p); err != nil || n != len(p) {
			t.Fatalf("write %d: n=%d err=%v", i, n, err)
		}
	}
	if c.count() != 1 || !bytes.Equal(c.writes[0], want) {
		t.Fatalf("%d writes, want 1 holding the whole frame in order", c.count())
	}
	// A response is written at once, after what was gathered before it.
	f.Write(interleaved(false, 100))
	f.Write([]byte("RTSP/1.0 200 OK\r\n\r\n"))
	if c.count() != 2 || !bytes.HasSuffix(c.writes[1], []byte("OK\r\n\r\n")) || c.writes[1][0] != '$' {
		t.Fatalf("response not flushed in order with the gathered packet: %d writes", c.count())
	}
	// Without a marker the timer flushes.
	f.Write(interleaved(false, 100))
	deadline := time.Now().Add(time.Second)
	for c.count() != 3 {
		if time.Now().After(deadline) {
			t.Fatal("gathered bytes were never flushed without a marker")
		}
		time.Sleep(time.Millisecond)
	}
	f.Close()
}
