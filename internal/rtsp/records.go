package rtsp

import (
	"crypto/tls"
	"net"
	"sync"
)

// recordBatcher sits under a tls.Conn and lets a frame's TLS records leave
// in one write. tls.Conn.Write seals its input in records of at most 16 KiB
// and writes each record on its own (crypto/tls has no writev), so a frame
// of 40 KiB took three syscalls over RTSPS where plain RTSP takes one. While
// a batch is open the records are collected and then written at once; every
// other write (handshake, alerts, HTTP on the HTTPS port) passes through.
type recordBatcher struct {
	net.Conn

	mu  sync.Mutex
	on  bool   // guarded by mu; a batch is open
	buf []byte // guarded by mu; the open batch's records, reused up to maxBatchKeep
	err error  // guarded by mu; a failed flush: the connection is done (invariant 6)
}

// maxBatchKeep bounds each buffer a connection keeps between frames (the
// joined frame, the batched records): a 4 Mbit/s camera's P-frames fit,
// a keyframe of a few hundred KiB is batched but its buffers not kept.
// The two kept buffers cost 200 RTSPS readers 30–45 MiB of RSS in the
// bench (2026-12-03), against a third less CPU per delivered Gbit/s.
const maxBatchKeep = 64 << 10

// Write writes p, or adds it to the open batch. Writes are serialised by
// the tls.Conn above (its output lock), and mu keeps a pass-through write
// from overtaking a batch being flushed: records must leave in sequence.
func (b *recordBatcher) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return 0, b.err
	}
	if b.on {
		b.buf = append(b.buf, p...)
		return len(p), nil
	}
	return b.Conn.Write(p)
}

// batch runs write, which writes through the tls.Conn above b, and sends
// what it wrote in one write. An error of the final write is returned; the
// tls.Conn does not see it, so the caller must close the connection (the
// records it sealed are lost, and its sequence numbers with them).
func (b *recordBatcher) batch(write func() error) error {
	b.mu.Lock()
	b.on = true
	b.mu.Unlock()
	err := write()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.on = false
	if len(b.buf) > 0 && err == nil {
		_, err = b.Conn.Write(b.buf)
	}
	if err != nil {
		// The records the tls.Conn sealed are lost, and their sequence
		// numbers with them: nothing more is written on this connection,
		// not even close_notify, and its buffer is not kept.
		b.err, b.buf = err, nil
		return err
	}
	b.buf = reuse(b.buf)
	return nil
}

// reuse empties buf for the next frame, or drops it when it grew past
// maxBatchKeep.
func reuse(buf []byte) []byte {
	if cap(buf) > maxBatchKeep {
		return nil
	}
	return buf[:0]
}

// batcherOf finds the record batcher under c's TLS (through wrappers that
// expose the connection they wrap, as tls.Conn does), or nil.
func batcherOf(c net.Conn) *recordBatcher {
	for {
		switch x := c.(type) {
		case *recordBatcher:
			return x
		case interface{ NetConn() net.Conn }:
			c = x.NetConn()
		default:
			return nil
		}
	}
}

// TLSListener accepts TLS connections on inner with a record batcher under
// each, so RTSP frames written over them leave in one write. The HTTPS
// port's listener is one too: RTSP arrives there as well.
func TLSListener(inner net.Listener, cfg *tls.Config) net.Listener {
	return tls.NewListener(batchingListener{inner}, cfg)
}

// batchingListener puts a record batcher under every connection it accepts.
type batchingListener struct{ net.Listener }

func (l batchingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &recordBatcher{Conn: c}, nil
}

// Batched reports whether c (a connection handed to Serve) has a record
// batcher under its TLS, so its frames leave in one write each.
func Batched(c net.Conn) bool { return batcherOf(c) != nil }
