package rtsp

import (
	"net"
	"sync"
	"time"
)

// gortsplib's server writes every interleaved RTP packet with its own
// syscall: ~18,000 writes/s for 50 readers of one 4 Mbit/s camera. framedConn
// gathers the packets of one frame and writes them together when the frame's
// last packet (the RTP marker bit, RFC 6184 §5.1) arrives, so a viewer costs
// about one write per frame. Anything that is not an RTP packet without the
// marker (responses, RTCP, end of frame) flushes at once, and a timer bounds
// how long bytes may wait if a marker never comes.

// framedMaxBuffer bounds the bytes gathered before a forced write.
const framedMaxBuffer = 256 << 10

// framedMaxDelay bounds how long gathered bytes may wait for their frame's end.
const framedMaxDelay = 5 * time.Millisecond

type framedListener struct {
	net.Listener
}

func listenFramed(network, address string) (net.Listener, error) {
	l, err := net.Listen(network, address)
	if err != nil {
		return nil, err
	}
	return framedListener{l}, nil
}

func (l framedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return newFramedConn(c), nil
}

// framedConn is one connection's write gatherer. Its buffer belongs to the
// connection alone and dies with it; after a write error the connection is
// closed, never reused.
type framedConn struct {
	net.Conn

	mu    sync.Mutex
	buf   []byte      // guarded by mu; bytes gathered for the current frame
	timer *time.Timer // guarded by mu; armed while buf is not empty
	err   error       // guarded by mu; first write error, returned to every later write
}

func newFramedConn(c net.Conn) *framedConn {
	f := &framedConn{Conn: c}
	f.timer = time.AfterFunc(time.Hour, f.flushLate)
	f.timer.Stop()
	return f
}

// midFrame reports whether p is an interleaved RTP packet (RFC 2326 §10.12)
// that does not end its frame.
func midFrame(p []byte) bool {
	return len(p) >= 4+12 && p[0] == '$' && p[4]>>6 == 2 && p[5]&0x80 == 0
}

func (f *framedConn) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return 0, f.err
	}
	if midFrame(p) && len(f.buf)+len(p) <= framedMaxBuffer {
		if len(f.buf) == 0 {
			f.timer.Reset(framedMaxDelay)
		}
		f.buf = append(f.buf, p...)
		return len(p), nil
	}
	if len(f.buf) == 0 {
		return f.write(p)
	}
	f.timer.Stop()
	f.buf = append(f.buf, p...)
	if _, err := f.write(f.buf); err != nil {
		return 0, err
	}
	f.buf = f.buf[:0]
	return len(p), nil
}

// write writes b in one call; on failure the connection is closed.
// Caller holds mu.
func (f *framedConn) write(b []byte) (int, error) {
	n, err := f.Conn.Write(b)
	if err != nil {
		f.err = err
		f.Conn.Close()
	}
	return n, err
}

// writeBuffers writes bufs with one writev, after whatever was gathered,
// with the given write deadline.
func (f *framedConn) writeBuffers(bufs *net.Buffers, deadline time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	if len(f.buf) > 0 {
		f.timer.Stop()
		*bufs = append(net.Buffers{f.buf}, *bufs...)
	}
	f.Conn.SetWriteDeadline(deadline)
	if _, err := bufs.WriteTo(f.Conn); err != nil {
		f.err = err
		f.Conn.Close()
		return err
	}
	f.buf = f.buf[:0]
	return nil
}

func (f *framedConn) flushLate() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil || len(f.buf) == 0 {
		return
	}
	if _, err := f.write(f.buf); err == nil {
		f.buf = f.buf[:0]
	}
}

func (f *framedConn) Close() error {
	f.mu.Lock()
	f.timer.Stop()
	f.buf = nil
	f.mu.Unlock()
	return f.Conn.Close()
}
