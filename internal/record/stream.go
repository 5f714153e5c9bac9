package record

import (
	"context"
	"errors"
	"time"

	"vigil/internal/hub"
	"vigil/internal/media"
)

// record reads one camera stream until its session ends or ctx does,
// cutting it into segments at keyframes. A stream recorded around events
// only keeps its pre-roll while no event wants it, starts a segment with
// it when one does, and ends the segment at the first keyframe past the
// event's post-roll.
func (r *Recorder) record(ctx context.Context, tg Target, m *mode) error {
	rd, err := r.cfg.Hub.Read(r.cfg.Grant(tg.Device), tg.Stream)
	if err != nil {
		return err
	}
	defer rd.Close()
	r.metrics.recordings.Inc()
	defer r.metrics.recordings.Dec()
	cut := r.stagger(tg)
	pre := &preRoll{max: r.cfg.PreRoll, limit: r.cfg.PreRollBytes}
	var cur *segment
	var skips uint64
	for {
		u, err := rd.Next(ctx)
		if err != nil {
			if cur != nil {
				r.finish(ctx, cur, nil)
			}
			return err
		}
		want := m.wants(u)
		if n := rd.Skips(); n != skips {
			if cur != nil || want { // not while an events-only stream keeps its pre-roll only
				r.lost(lossReaderBehind, int(n-skips), tg, nil)
			}
			skips = n
		}
		if cur != nil && u.Key && (!want || u.PTS-cur.startPTS >= cut) {
			r.finish(ctx, cur, u)
			cur, cut = nil, r.cfg.SegmentDuration
		}
		if cur == nil && !want {
			pre.add(u)
			continue
		}
		units := []*media.Unit{u}
		if cur == nil {
			units = append(pre.take(), u)
		}
		for _, u := range units {
			if cur, err = r.step(ctx, tg, rd, cur, u); err != nil {
				return err
			}
		}
	}
}

// step records u in cur, or in a new segment when cur is nil and u is a
// keyframe (a segment starts at a keyframe). It returns the segment being
// recorded (nil: none), or an error when the reader has ended.
func (r *Recorder) step(ctx context.Context, tg Target, rd *hub.Reader, cur *segment, u *media.Unit) (*segment, error) {
	if cur == nil {
		if !u.Key {
			return nil, nil
		}
		var err error
		if cur, err = r.start(ctx, tg, rd.Tracks(), rd.Egress, u); err != nil {
			if !errors.Is(err, errBeforeEpoch) && ctx.Err() == nil {
				r.lost(lossNoStart, 1, tg, err)
			}
			return nil, nil
		}
	}
	if err := cur.push(u); err != nil {
		cur.abort(err)
		r.lost(segmentLoss(err), 1, tg, err)
		if isEgress(err) {
			return nil, err // the reader has ended
		}
		return nil, nil
	}
	return cur, nil
}

// segmentLoss is why a segment that failed with err is lost.
func segmentLoss(err error) lossReason {
	switch {
	case isEgress(err):
		return lossEgress
	case errors.Is(err, errFirstDropped):
		return lossFirstFragment
	case errors.Is(err, errStoreStalled):
		return lossStoreStalled
	case errors.Is(err, errStore):
		return lossStore
	}
	return lossMux
}

// errBeforeEpoch: a keyframe captured before the device's current epoch
// (its claim or release raced the session) starts no segment: the session
// belongs to the old epoch, whose key is gone.
var errBeforeEpoch = errors.New("record: keyframe captured before the current ownership epoch")

// isEgress reports an error from the reader's egress check.
func isEgress(err error) bool {
	var egress *egressError
	return errors.As(err, &egress)
}

// egressError marks the reader's egress check failing (an isolation
// violation the hub has counted and logged).
type egressError struct{ err error }

func (e *egressError) Error() string { return e.err.Error() }
func (e *egressError) Unwrap() error { return e.err }

// checked wraps a reader's egress check so that its failures are told apart.
func checked(egress func(*media.Unit) error) func(*media.Unit) error {
	return func(u *media.Unit) error {
		if err := egress(u); err != nil {
			return &egressError{err}
		}
		return nil
	}
}

// defaultStoreTimeout is Config.StoreTimeout's default.
const defaultStoreTimeout = 30 * time.Second

// indexPatience bounds how long a stored segment's row is retried while
// the recorder runs; past it the object is left for the next start's
// reconciliation (Reconcile indexes objects without rows).
const indexPatience = 10 * time.Minute
