package rtsp

import (
	"bytes"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"vigil/internal/limit"
)

// framedConn is a server connection whose writers take turns: gortsplib
// writes responses and RTCP through Write, the direct writer writes a
// viewer's RTP through writeBuffers (one writev per access unit), and no
// write ever lands inside another's interleaved frame. After a write error
// the connection is closed, never reused.
//
// It also bounds a new connection's first request: gortsplib reads a
// connection's first bytes with no deadline at all, and later sets its own
// deadline per request, so until the first request has been read (or the
// first response written) every read deadline it sets is capped at the
// one given at accept. And it gives its client address's place back when
// closed (see limit.Addresses).
type framedConn struct {
	net.Conn
	// secure is set for TLS connections (RTSPS); records is the batcher
	// under their TLS, nil if they have none.
	secure  bool
	records *recordBatcher

	mu     sync.Mutex
	err    error  // guarded by mu; first write error, returned to every later write
	joined []byte // guarded by mu; a secure frame's packets joined, reused up to maxBatchKeep
	// raw is the plain TCP socket, written with writev directly (see
	// rawSocket); nil for TLS and others. iov is its scratch, guarded by mu.
	raw *rawSocket
	iov []syscall.Iovec
	// wdeadline is the write deadline writeBuffers last set; guarded by mu.
	wdeadline time.Time
	// afterWrite runs once after the next Write succeeds (see
	// afterNextWrite); guarded by mu.
	afterWrite func()

	dmu     sync.Mutex
	firstBy time.Time // guarded by dmu; the first request's deadline, zero once it was read
	// spoke is set once an RTSP request was read (or a tunnel's POST
	// header, see countRead); until then read counts the bytes read (see
	// maxFirstRequest), start holds the first four and tail the last
	// three. All guarded by dmu.
	spoke bool
	read  int
	start []byte
	tail  []byte
	// over is set once the connection went past maxFirstRequest; guarded by dmu.
	over bool
	// oversized is told, once, of a connection closed for going past
	// maxFirstRequest (nil: nobody); set at admit.
	oversized func(remote net.Addr)

	release func() // gives the address's place back; idempotent

	// ingest reads a recording camera's RTP under gortsplib once armed
	// (see directIngest); nil until then.
	ingest atomic.Pointer[directIngest]
}

// admit is a new connection's way in: within the per-address cap (nil
// caps nothing), with firstRequest to send its first request. It returns
// nil when the cap is full; the connection is then closed, nothing read
// from it, nothing answered.
func admit(c net.Conn, secure bool, caps *limit.Addresses, firstRequest time.Duration, oversized func(net.Addr)) *framedConn {
	release := func() {}
	if caps != nil {
		var ok bool
		if release, ok = caps.Take(c.RemoteAddr()); !ok {
			c.Close()
			return nil
		}
	}
	f := newFramedConn(c)
	f.secure, f.release, f.oversized = secure, release, oversized
	if secure {
		f.records = batcherOf(c)
	} else {
		f.raw = rawSocketOf(c)
	}
	if firstRequest > 0 {
		f.firstBy = time.Now().Add(firstRequest)
		c.SetReadDeadline(f.firstBy)
	}
	return f
}

func newFramedConn(c net.Conn) *framedConn { return &framedConn{Conn: c, release: func() {}} }

// maxFirstRequest bounds what a connection may send before its first RTSP
// request has been read. gortsplib reads the HTTP request that opens an
// RTSP-over-HTTP or WebSocket tunnel with http.ReadRequest, which has no
// size limit at all: a client that never ends its request line or a
// header was buffered until the first request's deadline (380 MB in 6 s
// on loopback). A real first request (OPTIONS, DESCRIBE, a tunnel's GET or
// POST) is a few hundred bytes.
const maxFirstRequest = 256 << 10

// errFirstRequestTooLarge ends a connection that sent more than
// maxFirstRequest bytes without a whole RTSP request.
var errFirstRequestTooLarge = errors.New("rtsp: over 256 KiB sent before a first request: connection closed")

// countRead counts the bytes b just read; it reports false once the
// connection has sent more than maxFirstRequest before its first request
// was read, and first the first time it does. The POST half of an RTSP-over-HTTP tunnel carries its RTSP in
// base64 after its HTTP header, read under gortsplib's RTSP limits, but no
// request is ever seen on it here (gortsplib hands the requests to the
// tunnel's merged connection): the end of its header lifts the bound.
func (f *framedConn) countRead(b []byte) (ok, first bool) {
	f.dmu.Lock()
	defer f.dmu.Unlock()
	if f.spoke {
		return true, false
	}
	if len(f.start) < 4 {
		f.start = append(f.start, b[:min(len(b), 4-len(f.start))]...)
	}
	f.read += len(b)
	if string(f.start) == "POST" {
		// The header's end may straddle two reads: look at the last
		// three bytes of the previous one with this one. Only until the
		// end is found, at most maxFirstRequest bytes in all.
		joint := append(f.tail, b...)
		if bytes.Contains(joint, []byte("\r\n\r\n")) {
			f.spoke = true
			return true, false
		}
		f.tail = append(f.tail[:0], joint[max(0, len(joint)-3):]...) // append moves overlapping bytes correctly
	}
	if f.read <= maxFirstRequest {
		return true, false
	}
	first, f.over = !f.over, true
	return false, first
}

// requestRead lifts both bounds of the first request: its deadline and
// its size.
func (f *framedConn) requestRead() {
	f.dmu.Lock()
	f.firstBy, f.spoke = time.Time{}, true
	f.dmu.Unlock()
}

// SetReadDeadline sets t, or the first request's deadline if that is
// earlier and the first request has not been read yet.
func (f *framedConn) SetReadDeadline(t time.Time) error {
	f.dmu.Lock()
	if by := f.firstBy; !by.IsZero() && (t.IsZero() || t.After(by)) {
		t = by
	}
	f.dmu.Unlock()
	return f.Conn.SetReadDeadline(t)
}

// firstRequestRead lifts the first request's deadline: gortsplib's own
// (IdleTimeout, ReadTimeout) apply from now on.
func (f *framedConn) firstRequestRead() {
	f.dmu.Lock()
	f.firstBy = time.Time{}
	f.dmu.Unlock()
}

// Close closes the connection and gives its address's place back.
func (f *framedConn) Close() error {
	defer f.release()
	return f.Conn.Close()
}

func (f *framedConn) Write(p []byte) (int, error) {
	f.mu.Lock()
	if f.err != nil {
		f.mu.Unlock()
		return 0, f.err
	}
	f.firstRequestRead() // a response: the peer spoke (an RTSP-over-HTTP tunnel's GET half sends no RTSP request)
	n, err := f.Conn.Write(p)
	f.fail(err)
	after := f.afterWrite
	if err == nil {
		f.afterWrite = nil
	}
	f.mu.Unlock()
	if err == nil && after != nil {
		after()
	}
	return n, err
}

// afterNextWrite has fn run, on the writer's goroutine, once gortsplib's
// next write (the response it is about to send) has succeeded; never if
// that write fails.
func (f *framedConn) afterNextWrite(fn func()) {
	f.mu.Lock()
	f.afterWrite = fn
	f.mu.Unlock()
}

// writeBuffers writes bufs with one writev, under a write deadline of
// timeout from now. The deadline is pushed back only when it moves by a
// tenth of timeout (at most a second): setting it costs a timer update,
// and a viewer's frames come 25 or more times a second. gortsplib's own
// writes set now + the same timeout, never less.
func (f *framedConn) writeBuffers(bufs *net.Buffers, timeout time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.pushDeadline(timeout)
	var err error
	if f.secure {
		// tls.Conn has no writev: join the frame so it is sealed in one
		// TLS write, not one record per packet, and batch that write's
		// records so they leave in one syscall.
		for _, b := range *bufs {
			f.joined = append(f.joined, b...)
		}
		*bufs = (*bufs)[:0]
		write := func() error { _, err := f.Conn.Write(f.joined); return err }
		if f.records != nil {
			err = f.records.batch(write)
		} else {
			err = write()
		}
		f.joined = reuse(f.joined)
	} else if f.raw != nil {
		f.iov, err = f.raw.writev(bufs, f.iov)
	} else {
		_, err = bufs.WriteTo(f.Conn)
	}
	f.fail(err)
	return err
}

// pushDeadline sets the write deadline timeout from now when that moves it
// by a tenth of timeout (at most a second). Caller holds mu.
func (f *framedConn) pushDeadline(timeout time.Duration) {
	if deadline := time.Now().Add(timeout); deadline.Sub(f.wdeadline) >= min(time.Second, timeout/10) {
		f.Conn.SetWriteDeadline(deadline)
		f.wdeadline = deadline
	}
}

// tryLock takes the connection for writeNow when it is a plain TCP
// connection (the only kind writeNow can write) and no other writer has it;
// the caller unlocks mu.
func (f *framedConn) tryLock() bool { return f.raw != nil && f.mu.TryLock() }

// writeNow writes what of bufs the socket takes at once, without waiting
// for room in its buffer: what it does not take is left in bufs. The write
// deadline is kept pushed back as writeBuffers does: a later write that
// waits has it. Caller holds mu, taken with tryLock.
func (f *framedConn) writeNow(bufs *net.Buffers, timeout time.Duration) error {
	if f.err != nil {
		return f.err
	}
	f.pushDeadline(timeout)
	var err error
	f.iov, err = f.raw.writevNow(bufs, f.iov)
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
