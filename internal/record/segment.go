package record

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"vigil/internal/fmp4"
	"vigil/internal/media"
	"vigil/internal/seal"
)

// segment is one segment being recorded: the muxer writes fragments to a
// bounded queue, a writer goroutine seals them into the blob store.
type segment struct {
	r        *Recorder
	tg       Target
	rec      Recording // filled in as it is recorded
	startPTS time.Duration
	mux      *fmp4.Segment
	q        *queue
	pw       *handoffWriter // the put's input
	stored   chan error     // the writer's result
}

// start opens a segment at keyframe u, under the device's current epoch.
func (r *Recorder) start(ctx context.Context, tg Target, tracks []*media.Track, egress func(*media.Unit) error, u *media.Unit) (*segment, error) {
	epoch, secret, err := r.cfg.Index.Epoch(ctx, tg.Device)
	if err != nil {
		return nil, err
	}
	defer clear(secret)
	if u.Captured().Before(epoch) {
		return nil, errBeforeEpoch
	}
	var b [8]byte
	rand.Read(b[:])
	s := &segment{r: r, tg: tg, startPTS: u.PTS, stored: make(chan error, 1),
		q: &queue{ch: make(chan []byte, queueSlots), limit: r.cfg.QueueBytes}}
	s.rec = Recording{Device: tg.Device, Stream: tg.Stream, Epoch: epoch, SegmentID: binary.BigEndian.Uint64(b[:]),
		Start: u.Captured()}
	s.rec.Object = objectKey(tg, s.rec.Start, s.rec.SegmentID)
	if s.mux, err = fmp4.NewSegment(s.q, tracks, checked(egress)); err != nil {
		return nil, err
	}
	pr, pw := newHandoff()
	s.pw = pw
	putCtx, cancel := context.WithCancel(context.Background())
	watch := &stallWatch{w: pw, limit: r.cfg.StoreTimeout, cancel: cancel}
	sw, err := r.cfg.Sealer.NewSegmentWriter(watch, tg.Device, secret, s.name())
	if err != nil {
		cancel()
		return nil, err
	}
	go s.store(putCtx, cancel, pr, sw, watch)
	return s, nil
}

func (s *segment) name() seal.Segment {
	return seal.Segment{Stream: s.rec.Stream, ID: s.rec.SegmentID, Start: s.rec.Start}
}

// push muxes a unit; a fragment the queue has no room for is dropped. It
// fails once the segment is lost: its first fragment was dropped, or its
// writer failed.
func (s *segment) push(u *media.Unit) error {
	if err := s.mux.Push(u); err != nil {
		return err
	}
	return s.q.err()
}

// abort ends the segment without storing it, at once: the put's input is
// closed with err, so even a stalled store's put fails and the writer
// goroutine ends on its own.
func (s *segment) abort(err error) {
	s.q.abort(err)
	s.pw.CloseWithError(err)
}

// finish ends the segment before next (nil: the stream ended) and files it
// once stored, without holding up the stream. ctx is the recorder's run.
func (r *Recorder) finish(ctx context.Context, s *segment, next *media.Unit) {
	var err error
	if next != nil {
		err = s.mux.Cut(next)
	} else {
		err = s.mux.Close()
	}
	if err == nil {
		err = s.q.err()
	}
	if err != nil {
		s.abort(err)
		r.lost(segmentLoss(err), 1, s.tg, err)
		return
	}
	s.q.close()
	s.rec.Duration = s.mux.Duration()
	s.rec.Fragments, s.rec.Size = s.q.kept(s.mux.Fragments())
	r.lost(lossQueueFull, s.q.dropped, s.tg, nil)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.file(ctx, s)
	}()
}

// file waits for the segment's object and adds its row. A row the index
// does not take in time (indexPatience, or StoreTimeout once the recorder
// stops) leaves the object whole and without a row: the next start's
// Reconcile indexes it. It is never deleted for a slow index.
func (r *Recorder) file(ctx context.Context, s *segment) {
	if err := <-s.stored; err != nil {
		r.lost(segmentLoss(err), 1, s.tg, err)
		return
	}
	rctx, cancel := r.rowContext(ctx)
	defer cancel()
	if err := r.addRow(rctx, s.rec); err != nil {
		r.lost(lossUnindexed, 1, s.tg, fmt.Errorf("object %s: %w", s.rec.Object, err))
		return
	}
	r.metrics.segments.Inc()
	r.metrics.bytes.Add(float64(s.rec.Size))
}

// rowContext bounds the tries at a segment's row: indexPatience, and
// StoreTimeout once ctx (the recorder's run) has ended.
func (r *Recorder) rowContext(ctx context.Context) (context.Context, context.CancelFunc) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), indexPatience)
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(r.cfg.StoreTimeout, cancel) })
	return rctx, func() { stop(); cancel() }
}

// addRow adds a stored segment's row, trying again until ctx ends: the
// segment is already stored, and a store that is busy for a moment (its
// write slot taken under load) must not cost a minute of footage. Adding
// a row twice is harmless (ErrIndexed).
func (r *Recorder) addRow(ctx context.Context, rec Recording) error {
	wait := 50 * time.Millisecond
	for {
		_, err := r.cfg.Index.AddRecording(ctx, rec)
		if err == nil || errors.Is(err, ErrIndexed) {
			return nil
		}
		r.metrics.retries.Inc()
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// store seals what the queue yields into the blob store: the put reads the
// pipe while this goroutine fills it. A put that fails closes the pipe, so
// the sealing stops too, and the queue fails (the recording goroutine
// gives the segment up at its next unit). The put has no deadline: a
// store that is slow, or slow to finish (an fsync, an upload's
// completion), is waited for; only one that takes none of the bytes
// waiting for it for StoreTimeout (watch) is cancelled.
func (s *segment) store(ctx context.Context, cancel context.CancelFunc, pr *handoffReader, sw *seal.SegmentWriter, watch *stallWatch) {
	defer cancel()
	put := make(chan error, 1)
	go func() {
		err := s.r.cfg.Blobs.Put(ctx, s.rec.Object, pr, -1)
		pr.CloseWithError(fmt.Errorf("record: store: %w", errors.Join(err, io.ErrClosedPipe)))
		put <- err
	}()
	var err error
	for p := range s.q.ch {
		s.q.size.Add(-int64(len(p)))
		if err == nil {
			if _, err = sw.Write(p); err != nil {
				s.q.fail(watch.storeError(err))
			}
		}
	}
	if err == nil {
		err = s.q.err()
	}
	if err == nil {
		err = sw.Close()
	}
	if err != nil {
		s.pw.CloseWithError(err) // the put fails: nothing half-written is kept
	} else {
		s.pw.Close()
	}
	if err = errors.Join(err, <-put); err != nil {
		err = watch.storeError(err)
	}
	s.stored <- err
}

// stallWatch is the put's input: a write the store takes none of within
// limit cancels the put (a stalled store).
type stallWatch struct {
	w      io.Writer
	limit  time.Duration
	cancel context.CancelFunc
	fired  atomic.Bool
}

func (w *stallWatch) Write(p []byte) (int, error) {
	t := time.AfterFunc(w.limit, func() {
		w.fired.Store(true)
		w.cancel()
	})
	defer t.Stop()
	return w.w.Write(p)
}

// storeError marks err, a put's or its input's, as the store's: stalled if
// the watch cancelled it.
func (w *stallWatch) storeError(err error) error {
	if errors.Is(err, errFirstDropped) || isEgress(err) {
		return err
	}
	if w.fired.Load() {
		return fmt.Errorf("%w (%v): %w", errStoreStalled, w.limit, err)
	}
	return fmt.Errorf("%w: %w", errStore, err)
}

// Why a segment's store failed.
var (
	errStore        = errors.New("record: the blob store refused the segment")
	errStoreStalled = errors.New("record: the blob store took none of the segment's bytes for the store timeout")
)

// errFirstDropped: a segment is lost when its first write (the init
// segment with the first fragment) does not fit the queue.
var errFirstDropped = errors.New("record: the store is too far behind to take a segment's first fragment")

// queueSlots bounds the fragments waiting, whatever their size.
const queueSlots = 256

// queue is the bounded writer queue between a segment's muxer and its
// writer. The muxer's writes (one per fragment, the first with the init
// segment) never block: one that does not fit is dropped and counted, and
// the fragment list leaves it out. Only the recording goroutine writes.
type queue struct {
	ch      chan []byte
	limit   int64
	size    atomic.Int64 // bytes waiting
	writes  []bool       // per write, whether it was kept
	sizes   []int64
	dropped int
	broken  atomic.Bool // the first write was dropped: the segment is lost
	closed  bool
	failure atomic.Pointer[error] // the segment is lost: aborted, or its writer failed
}

// Write queues p, which the muxer does not touch again.
func (q *queue) Write(p []byte) (int, error) {
	if q.closed || q.broken.Load() || q.failure.Load() != nil {
		return len(p), nil
	}
	keep := q.size.Load()+int64(len(p)) <= q.limit
	if keep {
		select {
		case q.ch <- p:
			q.size.Add(int64(len(p)))
		default:
			keep = false
		}
	}
	if !keep {
		q.dropped++
		if len(q.writes) == 0 {
			q.broken.Store(true)
		}
	}
	q.writes, q.sizes = append(q.writes, keep), append(q.sizes, int64(len(p)))
	return len(p), nil
}

func (q *queue) close() {
	if !q.closed {
		q.closed = true
		close(q.ch)
	}
}

// abort closes the queue so that the writer stores nothing.
func (q *queue) abort(err error) {
	q.fail(err)
	q.close()
}

// fail makes the queue fail with err unless it failed already: the
// segment is lost. The writer calls it too.
func (q *queue) fail(err error) { q.failure.CompareAndSwap(nil, &err) }

func (q *queue) err() error {
	if p := q.failure.Load(); p != nil {
		return *p
	}
	if q.broken.Load() {
		return errFirstDropped
	}
	return nil
}

// kept returns the fragments that were kept, at their offsets in the
// stored file, and the file's size. Fragment i came in write i; the first
// write also holds the init segment.
func (q *queue) kept(frags []fmp4.Fragment) ([]Fragment, int64) {
	var out []Fragment
	var off int64
	for i, keep := range q.writes {
		if keep && i < len(frags) {
			f := frags[i]
			o := off
			if i == 0 {
				o = f.Offset
			}
			out = append(out, Fragment{Offset: o, Time: f.Time, Key: f.Key})
		}
		if keep {
			off += q.sizes[i]
		}
	}
	return out, off
}
