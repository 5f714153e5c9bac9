package hls

import (
	"sync"
	"time"

	"vigil/internal/media"
)

// rateWindows is how many closed windows a rateMeter remembers.
const rateWindows = 8

// rateMeter measures the bit rate of what a muxer is fed, per window: a
// window runs from one video keyframe to the next (a segment is cut at a
// keyframe, so a window is the smallest segment), or one second when there
// is no video. RFC 8216 §4.3.4.2 wants BANDWIDTH to be the peak segment bit
// rate, so peak reports the largest recent window.
type rateMeter struct {
	mu      sync.Mutex
	started bool             // guarded by mu
	start   time.Duration    // guarded by mu; PTS the current window began at
	last    time.Duration    // guarded by mu; PTS of the last unit
	bytes   int64            // guarded by mu; payload bytes in the current window
	windows [rateWindows]int // guarded by mu; bits/s of closed windows, a ring
	closed  int              // guarded by mu; windows closed so far
}

// add counts u; boundary says whether u may start a window (a video
// keyframe; or any unit of a stream without video).
func (m *rateMeter) add(u *media.Unit, boundary, hasVideo bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.started {
		if hasVideo && !boundary {
			return
		}
		m.started, m.start = true, u.PTS
	}
	if d := u.PTS - m.start; d > 0 && (hasVideo && boundary || !hasVideo && d >= time.Second) {
		m.windows[m.closed%rateWindows] = int(float64(m.bytes*8) / d.Seconds())
		m.closed++
		m.start, m.bytes = u.PTS, 0
	}
	m.bytes += int64(u.Size())
	m.last = max(m.last, u.PTS)
}

// peak returns the highest recent window rate in bits/s and whether any
// window has closed. Before one has, it estimates from the open window,
// taken to last at least minSpan (a segment is never shorter).
func (m *rateMeter) peak(minSpan time.Duration) (int, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed == 0 {
		span := max(m.last-m.start, minSpan, time.Millisecond)
		return int(float64(m.bytes*8) / span.Seconds()), false
	}
	p := 0
	for _, r := range m.windows[:min(m.closed, rateWindows)] {
		p = max(p, r)
	}
	return p, true
}
