package webrtc

import (
	"time"
)

// Mode is what a session sends of its camera, best first. A session
// starts at the stream the viewer asked for and moves one mode at a time:
// down when the path's estimated rate stays under what the mode sends,
// up again (a probe) when it has stayed well above for a while.
type Mode int32

const (
	// ModeMain sends the main stream, every frame.
	ModeMain Mode = iota
	// ModeSub sends the sub stream, every frame.
	ModeSub
	// ModeKeyframes sends only the keyframes (and the audio) of the
	// lowest stream the viewer may see: each decodes alone.
	ModeKeyframes
	// ModeStills sends a keyframe now and then, as often as the estimate
	// allows, and no audio.
	ModeStills
)

// String names the mode as the page and the metrics show it.
func (m Mode) String() string {
	switch m {
	case ModeMain:
		return "main"
	case ModeSub:
		return "sub"
	case ModeKeyframes:
		return "keyframes"
	case ModeStills:
		return "stills"
	}
	return "unknown"
}

// adaptConfig times the adaptation. Tests shorten it.
type adaptConfig struct {
	// A mode is left for the next one down when the estimate has stayed
	// under downBelow × its measured rate for downHold, or under half
	// that for a third of downHold.
	downBelow float64
	downHold  time.Duration
	// A probe up is tried when the estimate has stayed over upAbove × the
	// rate measured of the mode above for upHold, and not before the
	// backoff has passed.
	upAbove float64
	upHold  time.Duration
	// The backoff starts at probeMin; a probe undone within probeWindow
	// failed and doubles it, up to probeMax.
	probeMin, probeMax, probeWindow time.Duration
}

func defaultAdapt() adaptConfig {
	return adaptConfig{downBelow: 0.8, downHold: 1500 * time.Millisecond, upAbove: 1.3, upHold: 3 * time.Second,
		probeMin: 5 * time.Second, probeMax: 30 * time.Second, probeWindow: 8 * time.Second}
}

// controller chooses a session's mode from the path's estimated rate and
// the rate measured of what the current mode sends. It holds no lock: the
// session's goroutine alone uses it.
//
// Going up is a probe: tried once the estimate has stayed well above what
// the mode above was measured to take, undone by the ordinary rule if the
// path chokes, and tried again after a backoff that doubles on each
// failure (the estimate, measured while sending less, can be wrong).
type controller struct {
	cfg          adaptConfig
	top, mode    Mode
	rates        [ModeStills + 1]int // bits/s each mode was last measured at; 0: never
	below, above time.Time           // since when the estimate was under, over; zero: not
	lastUp       time.Time           // when the last probe up was made
	settle       time.Time           // no move down before: the last move's effect is not measured yet
	backoff      time.Duration
	probeAt      time.Time // no probe up before
}

func newController(cfg adaptConfig, top Mode) *controller {
	return &controller{cfg: cfg, top: top, mode: top, backoff: cfg.probeMin}
}

// decide returns the mode wanted at now, given the estimate and the rate
// measured of the current mode, both in bits/s (rate 0: not measured yet).
func (c *controller) decide(now time.Time, estimate, rate int) Mode {
	if rate <= 0 || estimate <= 0 {
		return c.mode
	}
	c.rates[c.mode] = rate
	up := 2 * rate // what the mode above takes, if never measured
	if c.mode > ModeMain && c.rates[c.mode-1] > 0 {
		up = c.rates[c.mode-1]
	}
	switch {
	case float64(estimate) < c.cfg.downBelow*float64(rate) && c.mode < ModeStills && !now.Before(c.settle):
		c.above = time.Time{}
		if c.below.IsZero() {
			c.below = now
		}
		// Far below (under half the threshold), the path's queue fills
		// fast and every moment on this mode costs a stall later: a
		// third of the hold suffices.
		hold := c.cfg.downHold
		if float64(estimate) < c.cfg.downBelow/2*float64(rate) {
			hold /= 3
		}
		if now.Sub(c.below) >= hold {
			return c.mode + 1
		}
	case float64(estimate) >= c.cfg.upAbove*float64(up) && c.mode > c.top:
		c.below = time.Time{}
		if c.above.IsZero() {
			c.above = now
		}
		if now.Sub(c.above) >= c.cfg.upHold && !now.Before(c.probeAt) {
			return c.mode - 1
		}
	default:
		c.below, c.above = time.Time{}, time.Time{}
	}
	return c.mode
}

// moved records that the session is now in mode m. A move down soon after
// a probe up means the probe failed: the next waits twice as long.
func (c *controller) moved(now time.Time, m Mode) {
	if m > c.mode {
		if !c.lastUp.IsZero() && now.Sub(c.lastUp) < c.cfg.probeWindow {
			c.backoff = min(2*c.backoff, c.cfg.probeMax)
		} else {
			c.backoff = c.cfg.probeMin
		}
		c.probeAt = now.Add(c.backoff)
		// The path's queue still holds what the mode above sent, and the
		// new mode starts with a cached GOP to catch up on: its first
		// reports are of a path in distress (a sub stream judged on them
		// fell to keyframes 1.5 s after the switch).
		c.settle = now.Add(c.cfg.downHold)
	} else {
		c.lastUp = now
	}
	c.mode = m
	c.below, c.above = time.Time{}, time.Time{}
}

// meter measures the bit rate a mode sends, per window from one keyframe
// to the next at least a second later: a camera's bits come in bursts of
// a keyframe each GOP, so only whole GOPs give its rate.
type meter struct {
	started bool
	start   time.Duration // PTS of the window's keyframe
	bytes   int64
	rate    int // bits/s of the last closed window; 0 until one closed
}

// add counts n bytes of a unit at pts; key says it is a video keyframe.
func (m *meter) add(n int, pts time.Duration, key bool) {
	if !m.started {
		if !key {
			return
		}
		m.started, m.start = true, pts
	}
	if d := pts - m.start; key && d >= time.Second {
		m.rate = int(float64(m.bytes*8) / d.Seconds())
		m.start, m.bytes = pts, 0
	}
	m.bytes += int64(n)
}

// reset starts measuring a new mode.
func (m *meter) reset() { *m = meter{} }
