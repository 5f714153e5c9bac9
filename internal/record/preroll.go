package record

import (
	"sync/atomic"
	"time"

	"vigil/internal/access"
	"vigil/internal/media"
)

// mode is how a running stream is recorded: poll sets eventsOnly from
// its Target, Event moves until. The stream's goroutine reads both at
// every unit.
type mode struct {
	eventsOnly atomic.Bool
	until      atomic.Int64 // Unix nanoseconds: the last event's post-roll ends here
}

// wants reports whether u is to be recorded: always, unless the stream is
// recorded around events only and u was captured after the last one's
// post-roll.
func (m *mode) wants(u *media.Unit) bool {
	return !m.eventsOnly.Load() || u.Captured().UnixNano() < m.until.Load()
}

// Event records the device's streams that are recorded around events only
// from their pre-roll until PostRoll past until; streams recorded all the
// time already hold it. A stream that is not online records nothing of it.
func (r *Recorder) Event(device access.DeviceID, until time.Time) {
	end := until.Add(r.cfg.PostRoll).UnixNano()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range []access.StreamID{access.StreamMain, access.StreamSub} {
		m := r.running[Target{Device: device, Stream: s}]
		for m != nil {
			old := m.until.Load()
			if old >= end || m.until.CompareAndSwap(old, end) {
				break
			}
		}
	}
}

// preRoll keeps the recent GOPs of a stream recorded around events only,
// to start an event's recording with: the GOPs since the keyframe at or
// before max ago, at most limit bytes of them (the oldest GOPs go first;
// a single GOP larger than limit is not kept). The units are immutable
// once published (invariant 6), so keeping them copies nothing. Only the
// stream's goroutine uses it.
type preRoll struct {
	max   time.Duration
	limit int64
	units []*media.Unit
	gops  []int // index in units of each GOP's keyframe
	size  int64
}

// add keeps u, and drops the GOPs the bounds no longer need.
func (p *preRoll) add(u *media.Unit) {
	if u.Key {
		p.gops = append(p.gops, len(p.units))
	}
	if len(p.gops) == 0 {
		return // what comes before the first keyframe cannot start a recording
	}
	p.units = append(p.units, u)
	p.size += int64(u.Size())
	for len(p.gops) > 1 && (u.PTS-p.units[p.gops[1]].PTS >= p.max || p.size > p.limit) {
		p.dropOldest()
	}
	if p.size > p.limit {
		p.take()
	}
}

// dropOldest drops the oldest of two or more GOPs.
func (p *preRoll) dropOldest() {
	n := p.gops[1]
	for _, u := range p.units[:n] {
		p.size -= int64(u.Size())
	}
	p.units = append(p.units[:0], p.units[n:]...)
	clear(p.units[len(p.units):cap(p.units)])
	p.gops = p.gops[1:]
	for i := range p.gops {
		p.gops[i] -= n
	}
}

// take returns the units kept, from a keyframe on, and forgets them.
func (p *preRoll) take() []*media.Unit {
	out := p.units
	p.units, p.gops, p.size = nil, nil, 0
	return out
}
