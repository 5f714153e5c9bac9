package rtsp

import (
	"net"
	"sync"
	"time"
)

// framedConn is a server connection whose writers take turns: gortsplib
// writes responses and RTCP through Write, the direct writer writes a
// viewer's RTP through writeBuffers (one writev per access unit), and no
// write ever lands inside another's interleaved frame. After a write error
// the connection is closed, never reused.
type framedConn struct {
	net.Conn

	mu  sync.Mutex
	err error // guarded by mu; first write error, returned to every later write
}

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

func newFramedConn(c net.Conn) *framedConn { return &framedConn{Conn: c} }

func (f *framedConn) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return 0, f.err
	}
	n, err := f.Conn.Write(p)
	f.fail(err)
	return n, err
}

// writeBuffers writes bufs with one writev and the given write deadline.
func (f *framedConn) writeBuffers(bufs *net.Buffers, deadline time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.Conn.SetWriteDeadline(deadline)
	_, err := bufs.WriteTo(f.Conn)
	f.fail(err)
	return err
}

// fail remembers the first write error and closes the connection. Caller holds mu.
func (f *framedConn) fail(err error) {
	if err != nil && f.err == nil {
		f.err = err
		f.Conn.Close()
	}
}
