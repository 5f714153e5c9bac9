package webrtc

import (
	"slices"
	"testing"
	"time"

	"vigil/internal/media"
)

// TestControllerMovesOneModeAtATime: down after downHold under the rate,
// a probe up only above what the mode above took and after the backoff,
// and a failed probe doubles the backoff.
func TestControllerMovesOneModeAtATime(t *testing.T) {
	cfg := defaultAdapt()
	c := newController(cfg, ModeMain)
	t0 := time.Unix(0, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	const main, sub = 1_600_000, 200_000
	if m := c.decide(at(0), 700_000, main); m != ModeMain {
		t.Fatalf("moved at once to %v", m)
	}
	if m := c.decide(at(cfg.downHold/2), 700_000, main); m != ModeMain {
		t.Fatalf("moved before downHold to %v", m)
	}
	if m := c.decide(at(cfg.downHold), 700_000, main); m != ModeSub {
		t.Fatalf("after downHold under the rate: %v, want sub", m)
	}
	c.moved(at(cfg.downHold), ModeSub)
	// 800 kbit/s carries sub four times over but not main: no probe.
	for d := time.Duration(0); d < time.Minute; d += time.Second {
		if m := c.decide(at(cfg.downHold+d), 800_000, sub); m != ModeSub {
			t.Fatalf("moved to %v on a path that cannot carry main", m)
		}
	}
	// The cap is lifted: a probe after upHold.
	now := at(2 * time.Minute)
	c.decide(now, 20_000_000, sub)
	if m := c.decide(now.Add(cfg.upHold), 20_000_000, sub); m != ModeMain {
		t.Fatalf("no probe up: %v", m)
	}
	c.moved(now.Add(cfg.upHold), ModeMain)
	// The probe fails at once: the backoff doubles.
	fail := now.Add(cfg.upHold + time.Second)
	c.moved(fail, ModeSub)
	if c.backoff != 2*cfg.probeMin {
		t.Fatalf("backoff %v after a failed probe, want %v", c.backoff, 2*cfg.probeMin)
	}
	c.decide(fail, 20_000_000, sub)
	if m := c.decide(fail.Add(cfg.upHold), 20_000_000, sub); m != ModeSub {
		t.Fatalf("probed again before the backoff: %v", m)
	}
	if m := c.decide(fail.Add(c.backoff), 20_000_000, sub); m != ModeMain {
		t.Fatalf("no probe after the backoff: %v", m)
	}
}

// TestControllerLeavesFastWhenFarBelow: an estimate under half the
// threshold (800 kbit/s against main's 4.5 Mbit/s, the poor link of
// issue 17) moves down after a third of downHold, not the whole.
func TestControllerLeavesFastWhenFarBelow(t *testing.T) {
	cfg := defaultAdapt()
	c := newController(cfg, ModeMain)
	t0 := time.Unix(0, 0)
	if m := c.decide(t0, 800_000, 4_500_000); m != ModeMain {
		t.Fatalf("moved at once to %v", m)
	}
	if m := c.decide(t0.Add(cfg.downHold/3), 800_000, 4_500_000); m != ModeSub {
		t.Fatalf("after a third of downHold far below: %v, want sub", m)
	}
}

// TestControllerNeverAboveTop: a session that asked for sub never goes to main.
func TestControllerNeverAboveTop(t *testing.T) {
	c := newController(defaultAdapt(), ModeSub)
	t0 := time.Unix(0, 0)
	for d := time.Duration(0); d < time.Minute; d += time.Second {
		if m := c.decide(t0.Add(d), 50_000_000, 200_000); m != ModeSub {
			t.Fatalf("moved to %v", m)
		}
	}
}

// TestResendBounded: a packet goes out again resendTimes times at most,
// resendGap apart, within resendAge; new packets always go out.
func TestResendBounded(t *testing.T) {
	var s resendState
	t0 := time.Unix(0, 0)
	var none time.Time
	for seq := uint16(65530); seq != 10; seq++ { // across the wrap
		if !s.allow(seq, t0, none) {
			t.Fatalf("first sending of %d refused", seq)
		}
	}
	at := t0
	for i := range resendTimes {
		at = at.Add(resendGap)
		if !s.allow(65533, at, none) {
			t.Fatalf("retransmission %d refused", i+1)
		}
		if s.allow(65533, at.Add(resendGap/2), none) {
			t.Fatal("a retransmission sooner than resendGap after the last allowed")
		}
	}
	if s.allow(65533, at.Add(resendGap), none) {
		t.Fatal("one retransmission too many allowed")
	}
	if s.allow(5, t0.Add(resendAge+time.Millisecond), none) {
		t.Fatal("retransmission of a stale packet allowed")
	}
	// A switch of stream cuts retransmissions of what was sent before it.
	if !s.allow(20, t0.Add(time.Second), none) {
		t.Fatal("first sending of 20 refused")
	}
	if s.allow(20, t0.Add(time.Second+resendGap), t0.Add(time.Second+time.Millisecond)) {
		t.Fatal("a packet sent before the cut went out again")
	}
	if !s.allow(20, t0.Add(time.Second+resendGap), t0) {
		t.Fatal("a packet sent after the cut was not resent")
	}
}

// TestTrainRate: a burst spread by an 800 kbit/s link measures 800 kbit/s,
// however much of it the link's queue dropped (dropped packets take no
// time on the link).
func TestTrainRate(t *testing.T) {
	t0 := time.Unix(0, 0)
	var rs []report
	got := 0
	for i := range 40 {
		r := report{departed: t0.Add(time.Duration(i) * 100 * time.Microsecond), size: 1000, lost: i%3 == 2}
		if !r.lost {
			r.arrived = time.Duration(got) * 10 * time.Millisecond // 1000 B every 10 ms
			got++
		}
		rs = append(rs, r)
	}
	if r, _ := trainRate(rs); r < 790_000 || r > 810_000 {
		t.Fatalf("train rate %d, want 800 kbit/s", r)
	}
	if r, _ := trainRate(rs[:3]); r != 0 {
		t.Fatal("a rate from three packets")
	}
}

// TestEstimateNotUnderCleanDelivery: a window of a sub stream's traffic,
// 580 kbit/s delivered without loss or queuing, whose only packet train
// (its keyframe) arrived spread as if at 390 kbit/s (the receiver paused
// while it came): the estimate is at least what was delivered, so the
// session does not fall from sub to keyframes. It read the train alone;
// and when the window was congested, it still did.
func TestEstimateNotUnderCleanDelivery(t *testing.T) {
	t0 := time.Unix(100, 0)
	const delay = 150 * time.Millisecond
	e := &pathEstimate{base: []delaySample{{at: t0, delay: delay}}}
	at := func(d time.Time) time.Duration { return time.Duration(d.UnixNano()) + delay }
	for f := range 50 { // a P-frame of two packets every 40 ms
		for p := range 2 {
			dep := t0.Add(time.Duration(f)*40*time.Millisecond + time.Duration(p)*5*time.Millisecond)
			e.reports = append(e.reports, report{got: t0, departed: dep, arrived: at(dep), size: 1250})
		}
	}
	key := t0.Add(time.Second)
	for i := range 20 { // the keyframe: 20 packets back to back, spread on arrival
		dep := key.Add(time.Duration(i) * 100 * time.Microsecond)
		e.reports = append(e.reports, report{got: t0, departed: dep, arrived: at(key) + time.Duration(i)*20500*time.Microsecond, size: 1000})
	}
	slices.SortFunc(e.reports, func(a, b report) int { return a.departed.Compare(b.departed) })
	if train, n := trainRate(e.reports); n != 1 || train > 420_000 {
		t.Fatalf("the window's trains: %d at %d bit/s, want one at about 400 kbit/s", n, train)
	}
	if got := e.estimate(t0); got < 550_000 {
		t.Fatalf("estimate %d bit/s (basis %+v), want at least the 580 kbit/s delivered", got, e.basis)
	}
	// Congested (a tenth of the P-frames' packets lost), it is still at
	// least what was delivered.
	for i := 0; i < 100; i += 10 {
		e.reports[i].lost = true
	}
	if got := e.estimate(t0); got < 500_000 || e.basis.lossPct < 5 {
		t.Fatalf("congested: estimate %d bit/s (basis %+v), want at least the ~520 kbit/s delivered", got, e.basis)
	}
}

// TestControllerSettlesAfterAMoveDown: right after a move down the path's
// queue still holds the old mode's packets; estimates far below the new
// mode's rate do not move it on down until downHold has passed.
func TestControllerSettlesAfterAMoveDown(t *testing.T) {
	cfg := defaultAdapt()
	c := newController(cfg, ModeMain)
	t0 := time.Unix(0, 0)
	const sub = 500_000
	c.moved(t0, ModeSub)
	for d := time.Duration(0); d < cfg.downHold; d += decideEvery {
		if m := c.decide(t0.Add(d), 100_000, sub); m != ModeSub {
			t.Fatalf("moved on to %v %v after the move down", m, d)
		}
	}
	at := t0.Add(cfg.downHold)
	c.decide(at, 100_000, sub)
	if m := c.decide(at.Add(cfg.downHold/3), 100_000, sub); m != ModeKeyframes {
		t.Fatalf("still %v once settled and far below", m)
	}
}

// TestTooOld: a switch down replays the other stream's cached GOP while
// it is younger than a quarter of its GOP, else waits for its next keyframe.
func TestTooOld(t *testing.T) {
	cam := []*media.Track{{Kind: media.Video}}
	gop := func(key, last time.Duration, prevKey bool) []*media.Unit {
		var us []*media.Unit
		if prevKey {
			us = append(us, &media.Unit{PTS: key - 2*time.Second, Key: true})
		}
		us = append(us, &media.Unit{PTS: key, Key: true})
		for pts := key + 40*time.Millisecond; pts <= last; pts += 40 * time.Millisecond {
			us = append(us, &media.Unit{PTS: pts})
		}
		return us
	}
	for _, tc := range []struct {
		name  string
		units []*media.Unit
		want  time.Duration
	}{
		{"young", gop(10*time.Second, 10*time.Second+400*time.Millisecond, true), 0},
		{"old", gop(10*time.Second, 10*time.Second+800*time.Millisecond, true), 10*time.Second + 1},
		{"old, no GOP before", gop(10*time.Second, 10*time.Second+800*time.Millisecond, false), 10*time.Second + 1},
		{"no keyframe", nil, 0},
	} {
		if got := tooOld(cam, tc.units); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestEstimateKeepsTheTrain: a window without a packet train (a sub
// stream's keyframe left it before the next came) keeps the last train's
// rate for trainKeep, so that a probe up can see the path stay fast.
func TestEstimateKeepsTheTrain(t *testing.T) {
	t0 := time.Unix(100, 0)
	e := &pathEstimate{base: []delaySample{{at: t0, delay: 0}}}
	var key []report
	for i := range 20 { // 20 packets of 1000 bytes, 1 ms apart on arrival: 152 Mbit/s
		dep := t0.Add(time.Duration(i) * 10 * time.Microsecond)
		key = append(key, report{got: t0, departed: dep, arrived: time.Duration(dep.UnixNano()) + time.Duration(i)*50*time.Microsecond, size: 1000})
	}
	e.reports = key
	fast := e.estimate(t0)
	if fast < 100_000_000 {
		t.Fatalf("estimate %d with the keyframe's train, want over 100 Mbit/s", fast)
	}
	var pframes []report // then only P-frames: two packets every 40 ms, 500 kbit/s
	later := t0.Add(2 * time.Second)
	for f := range 25 {
		for p := range 2 {
			dep := later.Add(time.Duration(f)*40*time.Millisecond + time.Duration(p)*5*time.Millisecond)
			pframes = append(pframes, report{got: later, departed: dep, arrived: time.Duration(dep.UnixNano()), size: 1250})
		}
	}
	e.reports = pframes
	if got := e.estimate(later); got != fast {
		t.Fatalf("estimate %d without a train %v after one, want the train's %d", got, later.Sub(t0), fast)
	}
	if got := e.estimate(t0.Add(trainKeep + time.Second)); got >= fast {
		t.Fatalf("estimate %d %v after the last train, want it no longer kept", got, trainKeep+time.Second)
	}
}
