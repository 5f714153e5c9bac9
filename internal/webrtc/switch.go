package webrtc

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	pion "github.com/pion/webrtc/v4"
	"golang.org/x/time/rate"

	"vigil/internal/access"
	"vigil/internal/media"
)

// Opener opens another stream of a session's camera for its viewer. The
// caller (the HTTP layer) mints a grant afresh for every call, so each
// switch re-checks that the viewer may see that stream now: a token
// minted for one stream opens no other, and a revoked share opens nothing.
type Opener func(stream access.StreamID) (Source, error)

// estimator is the path's estimated rate (a pathEstimate).
type estimator interface {
	GetTargetBitrate() int
	// forget starts afresh after a change of what is sent.
	forget()
}

// How often a session weighs its mode, and how long a switch to another
// stream may wait for that stream's next keyframe before it is given up.
const (
	decideEvery = 250 * time.Millisecond
	switchWait  = 6 * time.Second
	// switchGap is the RTP time put between the last unit of one stream
	// and the keyframe of the next, about a frame.
	switchGap = 40 * time.Millisecond
)

// adapter is a session's adaptation to its path: the mode the controller
// chooses, what that mode lets through, and a switch of stream in
// progress. Only the session's goroutine touches it, but mode, which
// Session.Mode reads.
type adapter struct {
	ctl     *controller
	bwe     estimator
	open    Opener          // nil: no other stream may be opened
	top     access.StreamID // the stream the viewer asked for
	stream  access.StreamID // the stream sent now
	noSub   bool            // the sub stream was refused or cannot be decoded by the peer
	meter   meter
	pending *pendingSwitch
	waitKey bool // video waits for the next keyframe (after a mode up on one stream)
	// catchUp is set by a switch down, while the new stream's cached GOP
	// goes out: it is paced to the path (pace).
	catchUp bool
	paceEst int // the latest estimate pace saw, bits/s; 0: none yet
	// shift is added to the source's PTS so that RTP time runs on across
	// switches; last is the latest shifted PTS sent, lastCaptured the
	// capture time of the latest video unit sent.
	shift, last  time.Duration
	lastCaptured time.Time
	lastStill    time.Duration // PTS of the latest still sent (ModeStills)
	nextDecide   time.Time
	mode         atomic.Int32
}

// pendingSwitch is another stream opened for a switch, read until it has
// the keyframe to switch at (trySwitch).
type pendingSwitch struct {
	src    Source
	stream access.StreamID
	mode   Mode
	since  time.Time
	read   []*media.Unit // what was read of src so far
	// judged is set once a switch down has judged the cached GOP;
	// notBefore is the PTS a keyframe must reach to be switched at.
	judged    bool
	notBefore time.Duration
}

// newAdapter returns the adaptation of a session that starts on stream,
// or nil when there is no estimate to adapt to.
func newAdapter(cfg adaptConfig, bwe estimator, open Opener, stream access.StreamID) *adapter {
	if bwe == nil {
		return nil
	}
	top := ModeMain
	if stream == access.StreamSub {
		top = ModeSub
	}
	a := &adapter{ctl: newController(cfg, top), bwe: bwe, open: open, top: stream, stream: stream}
	a.mode.Store(int32(top))
	return a
}

// adapt weighs the mode and returns the unit to send in place of u (the
// other stream's keyframe when a switch completes), or nil to send nothing.
func (ss *Session) adapt(u *media.Unit) *media.Unit {
	a := ss.ad
	if a == nil {
		return u
	}
	if a.pending != nil {
		if k := ss.trySwitch(); k != nil {
			u = k
		}
	}
	if now := time.Now(); a.pending == nil && !now.Before(a.nextDecide) {
		a.nextDecide = now.Add(decideEvery)
		if want := a.ctl.decide(now, a.bwe.GetTargetBitrate(), a.meter.rate); want != a.ctl.mode {
			ss.change(now, want)
		}
	}
	if !a.keep(u, ss.isVideo(u)) {
		return nil
	}
	return u
}

// isVideo reports whether u is of the video track sent.
func (ss *Session) isVideo(u *media.Unit) bool {
	return u.Track < len(ss.tracks) && ss.tracks[u.Track] != nil && ss.tracks[u.Track].kind == pion.RTPCodecTypeVideo
}

// keep says whether the mode lets u through, and measures what it sends.
// Keyframes and stills modes measure every keyframe, sent or not: their
// rate is what sending each keyframe costs.
func (a *adapter) keep(u *media.Unit, video bool) bool {
	mode, key := Mode(a.mode.Load()), video && u.Key
	switch {
	case video && a.waitKey && !key,
		mode == ModeStills && !video,
		mode >= ModeKeyframes && video && !key:
		return false
	}
	a.meter.add(u.Size(), u.PTS, key)
	if mode == ModeStills && u.PTS-a.lastStill < a.stillEvery(u) {
		return false
	}
	if key {
		a.waitKey, a.lastStill = false, u.PTS
	}
	return true
}

// prime measures units that are not sent: the GOP before the keyframe a
// session starts from, or switches at, when its reader was opened one
// GOP back. The rate of what is sent is then known at its first
// keyframe, not a GOP later. tracks map the units' tracks.
func (a *adapter) prime(units []*media.Unit, tracks []*track) {
	if a == nil {
		return
	}
	for _, u := range units {
		video := u.Track < len(tracks) && tracks[u.Track] != nil && tracks[u.Track].kind == pion.RTPCodecTypeVideo
		a.meter.add(u.Size(), u.PTS, video && u.Key)
	}
}

// stillEvery is how far apart stills go: each within half the estimate,
// one a second at most and one every ten seconds at least.
func (a *adapter) stillEvery(u *media.Unit) time.Duration {
	half := max(a.bwe.GetTargetBitrate()/2, 1)
	d := time.Duration(float64(u.Size()*8) / float64(half) * float64(time.Second))
	return min(max(d, time.Second), 10*time.Second)
}

// sent notes a unit sent at shifted PTS pts.
func (a *adapter) sent(u *media.Unit, pts time.Duration, video bool) {
	if a == nil {
		return
	}
	a.last = max(a.last, pts)
	if video {
		a.lastCaptured = u.Captured()
	}
}

// pace sets the session's pacing for the mode: live video at paceRate,
// never held back; keyframes alone and stills, whose keyframes are as big
// as the link is slow, at a quarter above the estimate, so that a
// keyframe spreads over the link instead of overflowing its queue, while
// its packets still leave faster than the link carries them (the
// estimate measures their spread: it can grow). The cached GOP of the
// stream a switch down went to (catchUp, while replaying) goes at the
// estimate: the path's queue is full of the old stream's packets, and a
// burst would lose the new keyframe.
func (a *adapter) pace(l *rate.Limiter, replaying bool) {
	if !replaying {
		a.catchUp = false
	}
	// A change of mode forgets the estimate until the next report: the
	// last one stands for it meanwhile.
	if e := a.bwe.GetTargetBitrate(); e > 0 {
		a.paceEst = e
	}
	lim, burst := paceRate, paceBurst
	switch {
	case a.paceEst == 0:
	case Mode(a.mode.Load()) >= ModeKeyframes:
		lim, burst = rate.Limit(max(a.paceEst, minPace)/8)*5/4, slowBurst
	case a.catchUp: // at the estimate: the link's queue holds the old stream's tail already
		lim, burst = rate.Limit(max(a.paceEst, minPace)/8), slowBurst
	}
	if l.Limit() != lim {
		l.SetLimit(lim)
		l.SetBurst(burst)
	}
}

// minPace is the slowest pacing, in bits/s; slowBurst the burst at paces
// below paceRate, in bytes: a few packets, enough for a packet train
// (trainMin) to leave back to back at each keyframe and measure the
// link's rate, so that the estimate can grow past the pace. With 4 KiB
// (three packets) no train formed, the estimate was what was delivered,
// keyframes alone, and a session that fell to keyframes never came back.
const (
	minPace   = 100_000
	slowBurst = 10 << 10
)

// streamFor is the stream mode m is sent from.
func (a *adapter) streamFor(m Mode) access.StreamID {
	switch {
	case m == ModeMain:
		return access.StreamMain
	case a.noSub || a.open == nil && a.top != access.StreamSub:
		return a.top
	}
	return access.StreamSub
}

// change moves the session towards mode want: at once when want is sent
// from the same stream (a keyframe filter), else by opening the other
// stream and switching at its next keyframe (trySwitch). A sub stream
// that cannot be had is skipped over.
func (ss *Session) change(now time.Time, want Mode) {
	a := ss.ad
	if want == ModeSub && (a.noSub || a.open == nil) {
		want = ModeMain // up from keyframes: main is the stream there is
		if a.ctl.mode < ModeSub {
			want = ModeKeyframes // down from main: its keyframes
		}
	}
	stream := a.streamFor(want)
	if stream == a.stream {
		if want < a.ctl.mode {
			a.waitKey = true // frames after a dropped one do not decode
		}
		ss.moved(now, want)
		return
	}
	src, err := a.open(stream)
	if err != nil {
		ss.log.Info("webrtc adaptation: cannot open the other stream", "stream", stream, "error", err)
		if stream == access.StreamSub {
			a.noSub = true
			ss.change(now, want)
		}
		return
	}
	a.pending = &pendingSwitch{src: src, stream: stream, mode: want, since: now}
}

// moved records the new mode.
func (ss *Session) moved(now time.Time, m Mode) {
	a := ss.ad
	var why any
	if e, ok := a.bwe.(interface{ why() basis }); ok {
		why = e.why()
	}
	ss.log.Info("webrtc adaptation", "mode", m, "stream", a.stream, "estimate", a.bwe.GetTargetBitrate(),
		"rate", a.meter.rate, "basis", why)
	a.ctl.moved(now, m)
	a.meter.reset()
	a.bwe.forget()
	a.lastStill = -time.Hour
	a.mode.Store(int32(m))
	ss.srv.cfg.Metrics.Switches.WithLabelValues(m.String()).Inc()
}

// trySwitch reads the pending stream's queued units without waiting and
// switches at one of its video keyframes, which it returns; before there
// is one it returns nil (a GOP cut short at a switch would not decode).
// Down (the path is short), it switches at once, at the latest keyframe
// queued: the other stream's cached one, which its reader replays, with
// the GOP after it queued to follow — unless that GOP is old (tooOld):
// then at the next keyframe. Up (a probe), it waits for the
// first keyframe captured after the last video unit sent, so that the
// picture never steps back in time while the current stream plays on. A
// GOP before the keyframe (a reader opened one GOP back) measures the new
// stream's rate at once. A switch that cannot complete is given up.
func (ss *Session) trySwitch() *media.Unit {
	a, p := ss.ad, ss.ad.pending
	ctx, cancel := context.WithCancel(ss.ctx)
	cancel()
	for {
		u, err := p.src.Next(ctx)
		if err != nil {
			if !errors.Is(err, context.Canceled) || time.Since(p.since) > switchWait {
				ss.giveUp(fmt.Errorf("no keyframe in time: %w", err))
				return nil
			}
			break
		}
		p.read = append(p.read, u)
	}
	down := p.mode > a.ctl.mode
	if down && !p.judged {
		p.judged = true
		p.notBefore = tooOld(p.src.Tracks(), p.read)
	}
	k := -1
	for i, u := range p.read {
		switch {
		case !isKey(p.src.Tracks(), u):
		case down && u.PTS >= p.notBefore:
			k = i
		case !down && u.Captured().After(a.lastCaptured):
			k = i
		}
		if k >= 0 && !down {
			break
		}
	}
	if k < 0 {
		return nil
	}
	key := p.read[k]
	tracks, err := ss.remap(p.src.Tracks(), key)
	if err != nil {
		ss.giveUp(err)
		return nil
	}
	old := ss.src
	ss.src, ss.tracks, a.stream, a.pending = p.src, tracks, p.stream, nil
	old.Close()
	// What was drained of the old stream and not sent yet is dropped; the
	// new stream's units after its keyframe follow it.
	clear(ss.pending)
	ss.pending = p.read[k+1:]
	a.shift = a.last + switchGap - key.PTS
	a.waitKey, a.catchUp = false, down
	// The old stream's packets are of no use to the peer's decoder now:
	// retransmitting them would take the link from the new keyframe.
	ss.resend.cutAt(time.Now())
	ss.moved(time.Now(), p.mode)
	a.prime(p.read[:k], tracks)
	return key
}

// tooOld judges the cached GOP a switch down found queued (units, from
// the GOP before it when the reader was opened one GOP back): replayed,
// it is caught up on with what the path carries beyond the new stream's
// rate, while the path stays full. Older than a quarter of its GOP, the
// next keyframe is near enough and costs no catch-up: it returns the PTS
// a keyframe must reach to be switched at (past the cached one's); else
// 0. (Always replaying, a sub stream 1.5 s into its 2 s GOP on an 800
// kbit/s link stalled for seconds after the switch, and fell to
// keyframes; replaying up to half a GOP, vigilbench webrtc-poor's runs
// that replayed had half-second stalls for 3 s after the switch, those
// that waited none.)
func tooOld(cam []*media.Track, units []*media.Unit) time.Duration {
	var keys []time.Duration
	for _, u := range units {
		if isKey(cam, u) {
			keys = append(keys, u.PTS)
		}
	}
	if len(keys) == 0 {
		return 0
	}
	key, gop := keys[len(keys)-1], 2*time.Second // a common GOP, when the one before is not known
	if len(keys) > 1 {
		gop = key - keys[len(keys)-2]
	}
	if units[len(units)-1].PTS-key <= gop/4 {
		return 0
	}
	return key + 1
}

// isKey reports whether u is a keyframe of the first video track of cam,
// the track a session sends.
func isKey(cam []*media.Track, u *media.Unit) bool {
	return u.Key && u.Track == firstVideo(cam)
}

// firstVideo is the index of cam's first video track, -1 if none.
func firstVideo(cam []*media.Track) int {
	for i, t := range cam {
		if t.Kind == media.Video {
			return i
		}
	}
	return -1
}

// lastKey is the index of the last keyframe of cam's video among units,
// 0 when there is none.
func lastKey(cam []*media.Track, units []*media.Unit) int {
	for i := len(units) - 1; i > 0; i-- {
		if isKey(cam, units[i]) {
			return i
		}
	}
	return 0
}

// giveUp drops the pending switch; a sub stream that failed stays unused.
func (ss *Session) giveUp(why error) {
	a := ss.ad
	ss.log.Info("webrtc adaptation: switch given up", "stream", a.pending.stream, "reason", why)
	if a.pending.stream == access.StreamSub {
		a.noSub = true
	}
	a.pending.src.Close()
	a.pending = nil
}

// closePending closes a switch's stream left open when the session ends.
func (a *adapter) closePending() {
	if a != nil && a.pending != nil {
		a.pending.src.Close()
		a.pending = nil
	}
}

// remap maps another stream's tracks onto the session's: its video onto
// the video track, when the profile negotiated decodes it (key is its
// keyframe, with the SPS) and it has no B-frames; its first audio track
// onto the audio track, when the codec is the same. Other tracks are not
// sent (a sub stream without audio is silent).
func (ss *Session) remap(cam []*media.Track, key *media.Unit) ([]*track, error) {
	var video, audio *track
	for _, t := range ss.tracks {
		switch {
		case t == nil:
		case t.kind == pion.RTPCodecTypeVideo:
			video = t
		default:
			audio = t
		}
	}
	out := make([]*track, len(cam))
	for i, ct := range cam {
		switch {
		case ct.Kind == media.Video && i == key.Track:
			if _, ok := ct.Format.(*format.H264); !ok {
				return nil, fmt.Errorf("%w: %s", ErrCodec, ct.Codec())
			}
			v := videoOf(ct, i, []*media.Unit{key})
			if v.reorder {
				return nil, ErrBFrames
			}
			if v.known && !plidClass(video.boundProfile()).decodes(v.class) {
				return nil, fmt.Errorf("%w: stream %s, negotiated %s", ErrProfile, v.plid, video.boundProfile())
			}
			out[i] = video
		case ct.Kind == media.Audio && audio != nil && !containsTrack(out, audio):
			if t, _ := newTrack(ct.Format); t != nil && t.mime == audio.mime {
				out[i] = audio
			}
		}
	}
	return out, nil
}

func containsTrack(ts []*track, t *track) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}
