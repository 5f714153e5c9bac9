package record

import (
	"errors"
	"io"
	"sync"
)

// handoff is a synchronous in-memory pipe, as io.Pipe, whose reader can
// also hand each write's bytes straight to a writer (WriteTo) rather than
// copy them through a buffer: a disk put copies its input with io.Copy,
// which takes WriteTo when the reader has it and otherwise holds a 32 KiB
// buffer for as long as the segment is recorded (a minute), one per
// recorded stream. A Write returns once its bytes were read, or written on
// by WriteTo's writer, so the writer may reuse them (the sealer does), and
// WriteTo's writer must not keep them (io.Writer's rule).
type handoff struct {
	wrMu sync.Mutex  // one Write at a time
	wrCh chan []byte // a write's bytes, to the reader
	rdCh chan int    // how many of them the reader took
	once sync.Once
	done chan struct{} // closed by either side's close
	mu   sync.Mutex
	rerr error // the reader's close; guarded by mu
	werr error // the writer's close; guarded by mu
}

// newHandoff returns the reading and the writing half of a handoff.
func newHandoff() (*handoffReader, *handoffWriter) {
	p := &handoff{wrCh: make(chan []byte), rdCh: make(chan int), done: make(chan struct{})}
	return &handoffReader{p}, &handoffWriter{p}
}

type handoffReader struct{ p *handoff }

type handoffWriter struct{ p *handoff }

// Read reads the bytes of a write, as io.PipeReader's.
func (r *handoffReader) Read(b []byte) (int, error) {
	p := r.p
	select {
	case bw := <-p.wrCh:
		n := copy(b, bw)
		p.rdCh <- n
		return n, nil
	case <-p.done:
		return 0, p.readErr()
	}
}

// WriteTo writes each write's bytes to w as they come, until the writer
// closes (nil error at io.EOF) or w fails.
func (r *handoffReader) WriteTo(w io.Writer) (int64, error) {
	p := r.p
	var n int64
	for {
		select {
		case bw := <-p.wrCh:
			k, err := w.Write(bw)
			n += int64(k)
			p.rdCh <- k
			if err != nil {
				return n, err
			}
		case <-p.done:
			err := p.readErr()
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return n, err
		}
	}
}

// CloseWithError closes the reading half: writes fail with err.
func (r *handoffReader) CloseWithError(err error) { r.p.close(&r.p.rerr, err, io.ErrClosedPipe) }

// Write hands b to the reader and returns once it took all of it.
func (w *handoffWriter) Write(b []byte) (int, error) {
	p := w.p
	p.wrMu.Lock()
	defer p.wrMu.Unlock()
	n := 0
	for once := true; once || len(b) > 0; once = false {
		select {
		case <-p.done:
			return n, p.writeErr()
		default:
		}
		select {
		case p.wrCh <- b:
			k := <-p.rdCh
			b, n = b[k:], n+k
		case <-p.done:
			return n, p.writeErr()
		}
	}
	return n, nil
}

// Close closes the writing half: the reader reads io.EOF.
func (w *handoffWriter) Close() error {
	w.p.close(&w.p.werr, nil, io.EOF)
	return nil
}

// CloseWithError closes the writing half: the reader reads err.
func (w *handoffWriter) CloseWithError(err error) { w.p.close(&w.p.werr, err, io.EOF) }

// close keeps err (or def) as the side's first close, and ends the pipe.
func (p *handoff) close(side *error, err, def error) {
	if err == nil {
		err = def
	}
	p.mu.Lock()
	if *side == nil {
		*side = err
	}
	p.mu.Unlock()
	p.once.Do(func() { close(p.done) })
}

// readErr is what a read of a closed pipe returns: the writer's close,
// or io.ErrClosedPipe once the reader closed it.
func (p *handoff) readErr() error { return p.closedErr(&p.rerr, &p.werr) }

// writeErr is what a write to a closed pipe returns: the reader's close,
// or io.ErrClosedPipe once the writer closed it.
func (p *handoff) writeErr() error { return p.closedErr(&p.werr, &p.rerr) }

// closedErr is the other side's close unless this side closed first.
func (p *handoff) closedErr(own, other *error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if *own == nil && *other != nil {
		return *other
	}
	return io.ErrClosedPipe
}
