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
	for {
		u, err := rd.Next(ctx)
		if err != nil {
			if cur != nil {
				r.finish(cur, nil)
			}
			return err
		}
		want := m.wants(u)
		if cur != nil && u.Key && (!want || u.PTS-cur.startPTS >= cut) {
			r.finish(cur, u)
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
			if !errors.Is(err, errBeforeEpoch) {
				r.log.Warn("recorder: cannot start a segment; trying at the next keyframe", "camera", tg.Device,
					"stream", tg.Stream, "error", err)
			}
			return nil, nil
		}
	}
	if err := cur.push(u); err != nil {
		cur.abort(err)
		r.metrics.failed.Inc()
		if isEgress(err) {
			return nil, err // the reader has ended
		}
		r.log.Warn("recorder: segment abandoned", "camera", tg.Device, "stream", tg.Stream, "error", err)
		return nil, nil
	}
	return cur, nil
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

// storeTimeout bounds storing a segment's last bytes and its row, which
// goes on after the recorder is asked to stop.
const storeTimeout = 30 * time.Second
