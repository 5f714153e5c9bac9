package rtsp

import (
	"bytes"
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
	// secure is set for TLS connections (RTSPS).
	secure bool

	mu  sync.Mutex
	err error // guarded by mu; first write error, returned to every later write
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
	var err error
	if f.secure {
		// tls.Conn has no writev: join the frame so it leaves in one TLS
		// write, not one record per packet.
		_, err = f.Conn.Write(bytes.Join(*bufs, nil))
		*bufs = (*bufs)[:0]
	} else {
		_, err = bufs.WriteTo(f.Conn)
	}
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
