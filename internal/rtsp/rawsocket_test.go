package rtsp

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// tcpPair is a connected pair of loopback TCP connections.
func tcpPair(t *testing.T) (client, server *net.TCPConn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

// TestRawSocket: writev through a small socket buffer to a slow reader
// delivers every byte in order, over more buffers than one writev takes;
// a reader that reads nothing makes it fail at the write deadline; raw
// reads see the bytes, then the deadline, then EOF.
func TestRawSocket(t *testing.T) {
	c, s := tcpPair(t)
	s.SetWriteBuffer(8 << 10)
	c.SetReadBuffer(8 << 10)
	raw := rawSocketOf(s)
	var want []byte
	var bufs net.Buffers
	for i := range 3000 {
		b := bytes.Repeat([]byte{byte(i)}, 1+i%700)
		want = append(want, b...)
		bufs = append(bufs, b, nil)
	}
	got := make(chan []byte)
	go func() {
		var all []byte
		buf := make([]byte, 3000)
		for len(all) < len(want) {
			time.Sleep(time.Millisecond)
			n, err := c.Read(buf)
			all = append(all, buf[:n]...)
			if err != nil {
				break
			}
		}
		got <- all
	}()
	s.SetWriteDeadline(time.Now().Add(20 * time.Second))
	iov, err := raw.writev(&bufs, nil)
	if err != nil || len(bufs) != 0 {
		t.Fatalf("writev: %v, %d buffers left", err, len(bufs))
	}
	if all := <-got; !bytes.Equal(all, want) {
		t.Fatalf("read %d bytes, not the %d written", len(all), len(want))
	}
	for _, v := range iov[:cap(iov)] {
		if v.Base != nil {
			t.Fatal("the scratch keeps pointers into written buffers")
		}
	}

	s.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
	big := net.Buffers{make([]byte, 8<<20)}
	if _, err := raw.writev(&big, iov); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("writev to a reader that reads nothing: %v", err)
	}

	c2, s2 := tcpPair(t)
	r := rawSocketOf(c2)
	s2.Write([]byte("hello"))
	buf := make([]byte, 16)
	if n, err := r.read(buf); err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	c2.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := r.read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v", err)
	}
	c2.SetReadDeadline(time.Time{})
	s2.Close()
	if _, err := r.read(buf); err != io.EOF {
		t.Fatalf("read at the end: %v", err)
	}
}
