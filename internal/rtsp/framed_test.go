package rtsp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
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
	fail   error
	closed bool
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail != nil {
		return 0, c.fail
	}
	c.writes = append(c.writes, bytes.Clone(p))
	return len(p), nil
}

func (c *countingConn) Close() error { c.closed = true; return nil }

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

// TestFramedConnNeverInterleavesAndClosesOnError: responses written by
// gortsplib and units written by the direct writer never cut into each
// other, and a failed write closes the connection for good.
func TestFramedConnNeverInterleavesAndClosesOnError(t *testing.T) {
	c := &deadlineConn{}
	f := newFramedConn(c)
	unit := net.Buffers{interleaved(false, 1400), interleaved(true, 700)}
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() { f.Write([]byte("RTSP/1.0 200 OK\r\n\r\n")) })
		wg.Go(func() {
			b := append(net.Buffers(nil), unit...)
			f.writeBuffers(&b, time.Second)
		})
	}
	wg.Wait()
	var all []byte
	for _, w := range c.writes {
		all = append(all, w...)
	}
	for len(all) > 0 { // every chunk is a whole response or a whole unit
		switch {
		case bytes.HasPrefix(all, []byte("RTSP/1.0 200 OK\r\n\r\n")):
			all = all[len("RTSP/1.0 200 OK\r\n\r\n"):]
		case bytes.HasPrefix(all, append(append([]byte(nil), unit[0]...), unit[1]...)):
			all = all[len(unit[0])+len(unit[1]):]
		default:
			t.Fatalf("writes interleaved: % x", all[:16])
		}
	}
	c.fail = errors.New("broken pipe")
	if _, err := f.Write([]byte("x")); err == nil || !c.closed {
		t.Fatal("a failed write did not close the connection")
	}
	c.fail = nil
	if _, err := f.Write([]byte("x")); err == nil {
		t.Fatal("the connection was reused after a write error")
	}
}

// TestAfterNextWriteFollowsTheResponse: what play.start hangs on the
// connection runs once gortsplib's next write (the PLAY response) has
// gone out, after its bytes, and not at all when that write fails.
func TestAfterNextWriteFollowsTheResponse(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	f := newFramedConn(a)
	var order []string
	f.afterNextWrite(func() { order = append(order, "after") })
	go io.Copy(io.Discard, b)
	if _, err := f.Write([]byte("RTSP/1.0 200 OK\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	order = append(order, "written")
	if _, err := f.Write([]byte("more")); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(order) != "[after written]" {
		t.Fatalf("order %v, want the hook once, when the first write returned", order)
	}

	c, d := net.Pipe()
	d.Close()
	g := newFramedConn(c)
	ran := false
	g.afterNextWrite(func() { ran = true })
	if _, err := g.Write([]byte("RTSP/1.0 200 OK\r\n\r\n")); err == nil || ran {
		t.Fatalf("a failed write: error %v, hook ran %v; want an error and no hook", err, ran)
	}
}

// TestCountReadFindsTheTunnelHeaderEnd: a tunnel's POST lifts the first
// request's bound where its HTTP header ends, wherever the reads split
// it; a connection that sends no request is cut once past the bound.
func TestCountReadFindsTheTunnelHeaderEnd(t *testing.T) {
	post := []byte("POST /cam HTTP/1.0\r\nx-sessioncookie: abc\r\n\r\n")
	for cut := 1; cut < len(post); cut++ {
		for second := cut; second <= len(post); second++ {
			f := newFramedConn(nil)
			f.countRead(post[:cut])
			f.countRead(post[cut:second])
			f.countRead(post[second:])
			f.dmu.Lock()
			spoke := f.spoke
			f.dmu.Unlock()
			if !spoke {
				t.Fatalf("header read as %q, %q, %q: its end not found", post[:cut], post[cut:second], post[second:])
			}
		}
	}
	f := newFramedConn(nil)
	junk := bytes.Repeat([]byte("GET "), 1024)
	var cuts int
	for range maxFirstRequest/len(junk) + 2 {
		if ok, first := f.countRead(junk); !ok && first {
			cuts++
		}
	}
	if ok, first := f.countRead(junk); ok || first || cuts != 1 {
		t.Fatalf("past the bound: ok %v, first %v, cut %d times; want cut once", ok, first, cuts)
	}
}
