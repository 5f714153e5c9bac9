package hub

import (
	"context"
	"fmt"
	"sync"
	"time"

	"vigil/internal/access"
	"vigil/internal/media"
)

// UnitData is what a publisher writes; the hub adds the owner.
type UnitData struct {
	PTS     time.Duration
	Key     bool
	Payload [][]byte
}

// Reader is one viewer's attachment to a stream. Its queue is bounded in
// units, bytes and lag behind live: when a slow reader's queue overflows, the
// queue is emptied and the reader skips to the next keyframe, so it never
// blocks the camera or other readers and never drifts far behind live.
type Reader struct {
	s      *Stream
	grant  access.Grant
	notify chan struct{} // capacity 1: "the queue changed"
	// release uncounts the reader of a remote feed (nil for a stream
	// published here); set before the reader is returned, called once.
	release     func()
	releaseOnce sync.Once

	mu      sync.Mutex
	q       []*media.Unit // guarded by mu
	qBytes  int64         // guarded by mu
	waitKey bool          // guarded by mu; dropping until the next keyframe
	skips   uint64        // guarded by mu
	err     error         // guarded by mu; set when the reader ends
	// fromKey is set while the reader has started (or resumed) at a key
	// picture and no trailing picture has followed; guarded by mu. Pictures
	// that refer before that key (H.265 RASL after a CRA) are dropped then.
	fromKey bool
	// deliver, when set, takes units on the publisher's goroutine while
	// the reader's own is idle (see Deliver); guarded by mu.
	deliver func(*media.Unit) Delivery
	// busy is set while the reader's goroutine works on what Next
	// returned, until it calls Next again; handed is set when deliver
	// left it a unit to finish. Both guarded by mu.
	busy, handed bool
	// wake, when set (OnReady), starts a goroutine to Drain the reader
	// instead of one waiting in Next; draining is set from a wake until
	// Drain finds nothing left. stopRevoke cancels the revocation watch
	// OnReady set up. All guarded by mu.
	wake       func()
	draining   bool
	stopRevoke func() bool
}

// Delivery is what a reader's deliverer did with a unit (see Deliver).
type Delivery uint8

const (
	// Declined: nothing of the unit was taken; it is queued for Next.
	Declined Delivery = iota
	// Delivered: the unit was taken and is done with.
	Delivered
	// Unfinished: the unit was taken but not finished (the viewer's
	// socket did not take all of it): Next returns a nil unit and no
	// error, and the reader's goroutine finishes it before asking for the
	// next unit. Until then units are queued for Next.
	Unfinished
)

// Deliver lets the publisher's goroutine hand live units to fn itself while
// the reader's goroutine is idle — waiting in Next with nothing queued —
// instead of queueing them and waking that goroutine: a viewer that keeps
// up then costs no wake-up per unit. Every unit fn gets passed the same
// filters as a queued one (keyframe start, overflow skips) and the egress
// check against the reader's grant and stream first; one that fails it is
// queued instead, and Next's caller runs Egress on it, which counts, logs
// and ends the reader. fn runs with the stream's and the reader's locks
// held: it must not block (a non-blocking write at most) nor call the
// reader's or the hub's methods.
func (r *Reader) Deliver(fn func(*media.Unit) Delivery) {
	r.mu.Lock()
	r.deliver = fn
	r.mu.Unlock()
}

// OnReady makes the reader's goroutine one started on demand: instead of a
// goroutine waiting in Next, wake is called whenever there is something for
// it — a queued unit, a unit the deliverer left unfinished (Deliver), the
// reader's end — and no goroutine is draining the reader, and now if
// there is something already (the GOP cache a new reader starts from).
// wake runs with the reader's lock held, on the publisher's goroutine or
// the caller's: it must only start the goroutine, which calls Drain until
// Drain finds nothing left, and then returns. A revoked grant's lease ends
// the reader (access.ErrGrantRevoked) without a goroutine watching it.
// With a deliverer, a viewer that keeps up then costs no goroutine at all.
func (r *Reader) OnReady(wake func()) {
	stop := r.grant.AfterRevoke(func() { r.closeWith(access.ErrGrantRevoked) })
	r.mu.Lock()
	defer r.mu.Unlock()
	r.wake, r.stopRevoke = wake, stop
	if r.err != nil || r.handed || len(r.q) > 0 {
		r.signal()
	}
}

func newReader(s *Stream, g access.Grant) *Reader {
	return &Reader{s: s, grant: g, notify: make(chan struct{}, 1)}
}

// Tracks are the stream's tracks; Unit.Track indexes them.
func (r *Reader) Tracks() []*media.Track { return r.s.tracks }

// Owner is the camera session the reader is attached to.
func (r *Reader) Owner() media.Owner { return r.s.owner }

// WallClock is the wall-clock time of a unit's PTS: the session's start plus
// the PTS. Outputs use it for RTCP sender reports and program dates, so that
// replayed and live units map to one consistent clock.
func (r *Reader) WallClock(pts time.Duration) time.Time { return r.s.start.Add(pts) }

// Grant is the grant the reader was opened with.
func (r *Reader) Grant() access.Grant { return r.grant }

// Skips counts the times the reader's queue overflowed.
func (r *Reader) Skips() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.skips
}

// offer queues u for the reader without blocking. Caller holds r.s.mu.
func (r *Reader) offer(u *media.Unit) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return
	}
	isKey := u.Track == r.s.keyTrack && u.Key
	if r.waitKey {
		if !isKey {
			return
		}
		r.waitKey, r.fromKey = false, true
	}
	cfg := r.s.hub.cfg
	if len(r.q) >= cfg.ReaderQueueUnits || r.qBytes+int64(u.Size()) > cfg.ReaderQueueBytes ||
		len(r.q) > 0 && u.PTS-r.q[0].PTS > r.s.maxLag() {
		r.skipLocked()
		if !isKey {
			return
		}
		r.waitKey, r.fromKey = false, true
	}
	if r.refersBeforeStart(u) {
		return
	}
	if r.deliver != nil && len(r.q) == 0 && !r.busy && (deliverUnchecked() || r.check(u) == nil) {
		switch r.deliver(u) {
		case Delivered:
			return
		case Unfinished:
			r.busy, r.handed = true, true
			r.signal()
			return
		}
	}
	r.q = append(r.q, u)
	r.qBytes += int64(u.Size())
	r.signal()
}

// check is Egress's comparison without its consequences: the grant's
// (device, epoch, lifetime), then the reader's stream and session. offer
// leaves a unit that fails it to the reader's goroutine, whose Egress
// counts, logs and ends the reader.
func (r *Reader) check(u *media.Unit) error {
	if err := r.s.hub.check(r.grant, u); err != nil {
		return err
	}
	if o := u.Owner(); o != r.s.owner {
		// The right device but another session or stream: sessions never mix.
		return fmt.Errorf("isolation violation: unit of %s/%s session %d on a reader of %s/%s session %d",
			o.Device, o.Stream, o.Session, r.s.owner.Device, r.s.owner.Stream, r.s.owner.Session)
	}
	return nil
}

// refersBeforeStart reports whether u is a picture the reader could not
// decode because it refers to pictures before the key picture the reader
// started or resumed at (an H.265 RASL picture after a CRA; H.265 §8.1.3).
// The first trailing picture ends that state: no leading picture of the key
// follows it (§7.4.2.2). Caller holds r.mu.
func (r *Reader) refersBeforeStart(u *media.Unit) bool {
	if !r.fromKey || u.Track != r.s.keyTrack || u.Key {
		return false
	}
	t := r.s.tracks[u.Track]
	if t.Trailing(u) {
		r.fromKey = false
		return false
	}
	return t.RefersBeforeKey(u)
}

// Skip drops the reader's queue and what follows until the next keyframe.
// Outputs call it when their own transport dropped data (a full socket
// queue): the pictures after a loss would not decode anyway.
func (r *Reader) Skip() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil && !r.waitKey {
		r.skipLocked()
	}
}

// skipLocked counts a skip and waits for the next keyframe. Caller holds r.mu.
func (r *Reader) skipLocked() {
	clear(r.q)
	r.q, r.qBytes = r.q[:0], 0
	r.skips++
	r.s.skips.Inc()
	r.waitKey = true
}

// signal tells the reader's goroutine that something changed, or starts
// one (see OnReady). Caller holds r.mu.
func (r *Reader) signal() {
	if r.wake != nil {
		if !r.draining {
			r.draining = true
			r.wake()
		}
		return
	}
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

// end stops the reader with err; queued units are dropped. Caller holds r.s.mu.
func (r *Reader) end(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		r.err = err
		clear(r.q)
		r.q, r.qBytes = nil, 0
	}
	r.signal()
}

// Next returns the next unit, waiting for one. It returns the reason the
// reader ended (ErrOffline, ErrReplaced, ErrClosed, access.ErrGrantRevoked
// the moment the grant's lease is revoked) or ctx's error. With a
// deliverer (Deliver) it returns a nil unit and no error when the
// deliverer left a unit unfinished: the caller finishes it, then calls
// Next again. A call to Next says the previous unit is done with.
func (r *Reader) Next(ctx context.Context) (*media.Unit, error) {
	for {
		r.mu.Lock()
		if u, ok, err := r.take(); ok {
			r.mu.Unlock()
			return u, err
		}
		r.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-r.grant.Done():
			r.Close()
			return nil, access.ErrGrantRevoked
		case <-r.notify:
		}
	}
}

// Drain is Next without waiting, for a reader woken through OnReady: ok is
// false when nothing is left, and the goroutine that called it must then
// return (the next wake starts another). After an error Drain returns the
// same error again and the reader is never woken again.
func (r *Reader) Drain() (u *media.Unit, ok bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if u, ok, err = r.take(); !ok {
		r.draining = false
	}
	return u, ok, err
}

// take is what Next and Drain return when there is something: the reader's
// end, the nil unit of an unfinished delivery, or the next queued unit. ok
// is false when there is nothing; busy is then cleared. Caller holds r.mu.
func (r *Reader) take() (u *media.Unit, ok bool, err error) {
	switch {
	case r.err != nil:
		return nil, true, r.err
	case r.handed:
		r.handed = false
		return nil, true, nil
	case len(r.q) > 0:
		u = r.q[0]
		r.q[0] = nil
		r.q = r.q[1:]
		r.qBytes -= int64(u.Size())
		r.busy = true
		return u, true, nil
	}
	r.busy = false
	return nil, false, nil
}

// Egress is the check of invariant 3: outputs call it right before writing a
// unit's bytes. It compares the unit's device (and session) with the
// reader's grant and stream, and the unit's capture time with the grant's
// epoch. On a mismatch it counts and logs the violation, ends the reader and
// returns an error; the caller must write nothing and end the session.
func (r *Reader) Egress(u *media.Unit) error {
	err := r.check(u)
	r.s.hub.count(err, r.grant, u.Owner())
	if err != nil {
		r.Close()
	}
	return err
}

// Close detaches the reader. It is safe to call more than once.
func (r *Reader) Close() { r.closeWith(ErrClosed) }

// closeWith detaches the reader, which ends with err unless it had ended.
func (r *Reader) closeWith(err error) {
	r.s.removeReader(r)
	if r.release != nil {
		r.releaseOnce.Do(r.release)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopRevoke != nil {
		r.stopRevoke()
	}
	if r.err == nil {
		r.err = err
		clear(r.q)
		r.q, r.qBytes = nil, 0
	}
	r.signal()
}
