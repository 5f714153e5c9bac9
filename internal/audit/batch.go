package audit

import (
	"context"
	"time"
)

// Batcher is a Store that writes several history changes in one
// transaction: one commit (one fsync, with SQLite's synchronous=FULL) for
// many viewers. store/sqlite implements it. With a Batcher, the Recorder
// groups the writes that arrive while one is being made (group commit):
// under a crowd of viewers starting at once, each write used to wait its
// turn at the store for a commit of its own, past its deadline — a
// 120-camera canary refused one MJPEG visit in six "viewing is not
// possible right now".
type Batcher interface {
	// WriteAccess writes the starts and ends of sessions in one
	// transaction, all or none, and returns the starts' ids in order.
	WriteAccess(ctx context.Context, starts []Viewing, ends []Ended) ([]int64, error)
}

// Ended is the end of a session, as Session.End records it.
type Ended struct {
	ID    int64
	At    time.Time
	Bytes int64
}

// maxBatch bounds the writes of one transaction.
const maxBatch = 256

// write is one start or end waiting to be written.
type write struct {
	start *Viewing // nil for an end
	end   Ended
	id    int64
	err   error
	done  chan struct{} // closed when id and err are set
	lead  chan struct{} // closed when this write's caller is to write the next batch
}

// batch holds the writes waiting while a batch is written.
type batch struct {
	queue    []*write // guarded by Recorder.mu
	flushing bool     // guarded by Recorder.mu; a caller writes batches (the queue is empty otherwise)
}

// grouped writes w with whatever else is waiting and returns when it is
// written. The caller whose write finds no batch in progress writes one
// batch of what is waiting (its own first), then hands the turn to the
// first write left waiting, if any: every batch is written by a caller
// that waits for it anyway, and no goroutine outlives the Recorder.
func (r *Recorder) grouped(b Batcher, w *write) (int64, error) {
	w.done, w.lead = make(chan struct{}), make(chan struct{})
	r.mu.Lock()
	r.batch.queue = append(r.batch.queue, w)
	lead := !r.batch.flushing
	r.batch.flushing = true
	r.mu.Unlock()
	if !lead {
		select {
		case <-w.done:
			return w.id, w.err
		case <-w.lead:
		}
	}
	r.writeBatch(b)
	<-w.done // it was first in the batch written
	return w.id, w.err
}

// writeBatch writes the first maxBatch writes waiting, then hands the turn
// on or ends it.
func (r *Recorder) writeBatch(b Batcher) {
	r.mu.Lock()
	n := min(len(r.batch.queue), maxBatch)
	ws := r.batch.queue[:n:n]
	r.batch.queue = append([]*write(nil), r.batch.queue[n:]...)
	r.mu.Unlock()

	var starts []Viewing
	var ends []Ended
	for _, w := range ws {
		if w.start != nil {
			starts = append(starts, *w.start)
		} else {
			ends = append(ends, w.end)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	ids, err := b.WriteAccess(ctx, starts, ends)
	cancel()
	if err == nil && len(ids) != len(starts) {
		err = errShortIDs
	}
	i := 0
	for _, w := range ws {
		w.err = err
		if w.start != nil && err == nil {
			w.id = ids[i]
			i++
		}
		close(w.done)
	}

	r.mu.Lock()
	if len(r.batch.queue) > 0 {
		close(r.batch.queue[0].lead)
	} else {
		r.batch.flushing = false
	}
	r.mu.Unlock()
}
