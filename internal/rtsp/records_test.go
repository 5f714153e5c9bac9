package rtsp

import (
	"errors"
	"net"
	"testing"
)

// failingConn fails every write and counts the writes it was given.
type failingConn struct {
	net.Conn
	writes int
}

func (c *failingConn) Write(p []byte) (int, error) {
	c.writes++
	return 0, errors.New("write: broken pipe")
}

// TestBatcherFailsForGoodAfterAFailedFlush: once a frame's batched records
// could not be written, the connection writes nothing more — not the next
// frame, not a pass-through write such as TLS's close_notify — and keeps
// no buffer (invariant 6: a connection that saw a failure is not reused).
func TestBatcherFailsForGoodAfterAFailedFlush(t *testing.T) {
	c := &failingConn{}
	b := &recordBatcher{Conn: c}
	err := b.batch(func() error {
		_, err := b.Write([]byte("record one"))
		return err
	})
	if err == nil || c.writes != 1 {
		t.Fatalf("flush: %v after %d writes; want its error after 1", err, c.writes)
	}
	if b.buf != nil {
		t.Errorf("a failed connection kept its %d-byte buffer", cap(b.buf))
	}
	if _, err := b.Write([]byte("close_notify")); err == nil {
		t.Error("a pass-through write after the failed flush succeeded")
	}
	if err := b.batch(func() error { _, err := b.Write([]byte("next frame")); return err }); err == nil {
		t.Error("the next frame's batch after the failed flush succeeded")
	}
	if c.writes != 1 {
		t.Errorf("%d writes reached the connection after it failed, want none", c.writes-1)
	}
}
