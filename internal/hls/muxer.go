package hls

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gohlslib/v2"
	"github.com/bluenviron/gohlslib/v2/pkg/codecs"

	"vigil/internal/access"
	"vigil/internal/hub"
	"vigil/internal/media"
)

// muxerKey names a muxer. It is built from typed IDs only, the device taken
// from the grant, never from a URL (invariant 5).
type muxerKey struct {
	device  access.DeviceID
	stream  access.StreamID
	variant Variant
	// since is zero for the muxer every holder shares, or the epoch (unix
	// nanoseconds) of a holder whose share or claim is younger than it:
	// that holder gets a muxer of its own (see Manager.muxer).
	since int64
}

// muxer is one gohlslib Muxer fed by one hub reader. It is shared by every
// viewer of the stream and variant, so each request is checked against the
// muxer's owner before a byte of it is written.
type muxer struct {
	key    muxerKey
	mgr    *Manager
	log    *slog.Logger
	ready  chan struct{} // closed once the muxer has started or failed to
	done   chan struct{} // closed once the muxer is stopping; stopErr is set
	cancel context.CancelCauseFunc

	// floor is the epoch of the grant that made the muxer: its reader
	// never fed a unit captured before it. Immutable.
	floor time.Time

	// Set before ready is closed, read-only afterwards.
	hm    *gohlslib.Muxer
	owner media.Owner
	// first is the first unit fed, the oldest the muxer may serve: a
	// request's egress check runs on it, so that it covers the grant's
	// epoch (invariant 3) as well as its device.
	first  *media.Unit
	layout layout
	tracks []outTrack
	err    error // why the muxer did not start

	// last is the last video keyframe fed (or the first unit, for audio
	// only). Requests run Hub.Egress on it: the check needs an object that
	// carries its owner, and this one holds no more than the hub's GOP cache.
	last     atomic.Pointer[media.Unit]
	lastReq  atomic.Int64                 // unix nanoseconds of the last request's start or end
	active   atomic.Int32                 // requests being served
	lastUnit atomic.Int64                 // unix nanoseconds of the last unit fed
	grant    atomic.Pointer[access.Grant] // the freshest grant that passed the check
	rate     rateMeter
	parts    partMemo                      // the parts of recent segments, for playlists (relisting)
	noting   atomic.Bool                   // noteParts is rendering a playlist
	nextKey  atomic.Pointer[chan struct{}] // closed when the next video keyframe is fed
	// keyGap is the PTS distance between the last two video keyframes fed
	// (nanoseconds; 0 until two were): when the camera's next one is due.
	keyGap atomic.Int64
	// keysFed and lastKeyPTS count and time the video keyframes fed; only
	// the feeding goroutine touches them.
	keysFed    int
	lastKeyPTS time.Duration
	// stopErr says why the muxer stopped; written before done is closed.
	stopErr  error
	errLog   atomic.Int64 // unix nanoseconds of the last encode error logged
	hasVideo bool         // set before ready
}

func newMuxer(mgr *Manager, key muxerKey, g access.Grant) *muxer {
	x := &muxer{
		key: key, mgr: mgr, floor: g.Epoch(),
		log:   mgr.cfg.Logger.With("camera", key.device, "stream", key.stream, "variant", key.variant),
		ready: make(chan struct{}),
		done:  make(chan struct{}),
	}
	x.grant.Store(&g)
	next := make(chan struct{})
	x.nextKey.Store(&next)
	x.lastReq.Store(time.Now().UnixNano())
	x.lastUnit.Store(time.Now().UnixNano())
	return x
}

// begin records a request under g, which has passed the egress check; the
// caller calls end when it is done. A muxer does not go idle while it
// serves a request (a blocking playlist reload, a first playlist waiting
// for its segment).
func (x *muxer) begin(g access.Grant) {
	x.active.Add(1)
	x.lastReq.Store(time.Now().UnixNano())
	for {
		old := x.grant.Load()
		live := old.Live(time.Now()) == nil
		if (live && !g.Expiry().After(old.Expiry())) || x.grant.CompareAndSwap(old, &g) {
			return
		}
	}
}

func (x *muxer) end() {
	x.lastReq.Store(time.Now().UnixNano())
	x.active.Add(-1)
}

// allows reports whether the muxer holds nothing captured before g's
// epoch: its first unit (or, before it started, the epoch it was made for)
// is not older than the epoch.
func (x *muxer) allows(g access.Grant) bool {
	select {
	case <-x.ready:
		if x.first != nil {
			return !x.first.Captured().Before(g.Epoch())
		}
	default:
	}
	return !x.floor.Before(g.Epoch())
}

// stopped reports whether the muxer has stopped.
func (x *muxer) stopped() bool {
	select {
	case <-x.done:
		return true
	default:
		return false
	}
}

// run feeds the muxer from r until ctx ends, the publisher session ends or
// the muxer goes idle. It owns r.
func (x *muxer) run(ctx context.Context, r *hub.Reader) {
	ctx, stopIdle := context.WithCancel(ctx)
	go x.watchIdle(ctx)
	err := x.feed(ctx, r)
	stopIdle()
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		err = cause
	}
	x.stopErr = err
	if x.hm == nil {
		if x.err == nil {
			x.err = err
		}
		close(x.ready)
	}
	close(x.done)
	if x.hm != nil {
		x.hm.Close() // releases requests blocked in the muxer
		x.mgr.Metrics().Muxers.WithLabelValues(string(x.key.variant)).Dec()
	}
	x.mgr.remove(x)
	x.log.Info("hls muxer stopped", "reason", err)
}

// watchIdle stops the muxer when it served no request for IdleTimeout, or
// when the camera sent nothing for stallTimeout (a publisher that stays
// connected but silent would otherwise hold requests blocked in gohlslib,
// which has no timeout of its own).
func (x *muxer) watchIdle(ctx context.Context) {
	idle := x.mgr.cfg.IdleTimeout
	check := min(idle, stallTimeout) / 2
	t := time.NewTicker(check)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if time.Since(time.Unix(0, x.lastUnit.Load())) >= stallTimeout {
			x.cancel(ErrStalled)
			return
		}
		if x.active.Load() == 0 && time.Since(time.Unix(0, x.lastReq.Load())) >= idle {
			x.cancel(ErrIdle)
			return
		}
	}
}

// feed moves units from the hub into the muxer. When the reader's grant
// expires or is revoked it re-attaches with a live grant another viewer
// brought, so the muxer outlives the viewer that happened to create it (a
// revoked share must not stop the owner's HLS); units already fed (by Seq,
// within the one publisher session) are skipped. With no live grant left
// the muxer stops.
func (x *muxer) feed(ctx context.Context, r *hub.Reader) error {
	var lastSeq uint64
	for {
		u, err := r.Next(ctx)
		if err == nil {
			err = r.Egress(u) // closes r on a mismatch
		}
		if errors.Is(err, access.ErrGrantExpired) || errors.Is(err, access.ErrGrantRevoked) {
			nr, rerr := x.reattach(ctx, r)
			if rerr != nil {
				return rerr
			}
			r = nr
			continue
		}
		if err != nil {
			r.Close()
			return err
		}
		if u.Seq <= lastSeq {
			continue
		}
		lastSeq = u.Seq
		x.lastUnit.Store(time.Now().UnixNano())
		if x.hm == nil {
			if err := x.start(r, u); err != nil {
				r.Close()
				return err
			}
		}
		x.write(r, u)
	}
}

// reattachWait is how long a muxer whose reader's grant ended waits for a
// viewer's request to bring a live grant: viewers reload playlists every
// second or so.
const reattachWait = 2 * time.Second

// reattach replaces the ended reader r by one opened with a live grant.
func (x *muxer) reattach(ctx context.Context, r *hub.Reader) (*hub.Reader, error) {
	r.Close()
	deadline := time.Now().Add(reattachWait)
	g := x.grant.Load()
	for g.Live(time.Now()) != nil {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("re-attach: no viewer with a live grant: %w", access.ErrGrantRevoked)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		g = x.grant.Load()
	}
	nr, err := x.mgr.cfg.Hub.Read(*g, x.key.stream)
	if err != nil {
		return nil, fmt.Errorf("re-attach: %w", err)
	}
	if nr.Owner() != r.Owner() {
		nr.Close()
		return nil, hub.ErrReplaced
	}
	x.log.Debug("hls muxer re-attached with another viewer's grant", "user", g.User())
	return nr, nil
}

// start makes the gohlslib muxer from the reader's tracks and the first
// unit, a keyframe with its parameter sets when the stream has video.
func (x *muxer) start(r *hub.Reader, first *media.Unit) error {
	var err error
	x.tracks, x.layout, err = selectTracks(r.Tracks(), x.key.variant, first)
	if err != nil {
		return err
	}
	tracks := make([]*gohlslib.Track, len(x.tracks))
	for i, t := range x.tracks {
		tracks[i] = t.hls
		x.hasVideo = x.hasVideo || t.hls.Codec.IsVideo()
	}
	v := string(x.key.variant)
	part := x.mgr.cfg.PartDuration
	if x.key.stream == access.StreamSub {
		part = x.mgr.cfg.SubPartDuration
	}
	hm := &gohlslib.Muxer{
		Tracks:             tracks,
		Variant:            x.key.variant.muxerVariant(),
		SegmentCount:       muxerSegments,
		SegmentMinDuration: x.mgr.cfg.SegmentDuration,
		PartMinDuration:    part,
		OnEncodeError: func(err error) {
			x.mgr.Metrics().EncodeErrors.WithLabelValues(v).Inc()
			x.logEncodeError(err)
		},
	}
	if err := hm.Start(); err != nil {
		return fmt.Errorf("hls: start muxer: %w", err)
	}
	x.hm, x.owner, x.first = hm, r.Owner(), first
	x.last.Store(first)
	x.mgr.Metrics().Muxers.WithLabelValues(v).Inc()
	x.mgr.Metrics().MuxersStarted.WithLabelValues(v).Inc()
	close(x.ready)
	x.log.Info("hls muxer started", "session", x.owner.Session, "tracks", len(tracks))
	return nil
}

// write hands u to the muxer. Units of tracks the variant cannot carry are
// dropped; refused units are counted and logged at a bounded rate.
func (x *muxer) write(r *hub.Reader, u *media.Unit) {
	var t *outTrack
	for i := range x.tracks {
		if x.tracks[i].index == u.Track {
			t = &x.tracks[i]
		}
	}
	if t == nil || len(u.Payload) == 0 {
		return
	}
	video := t.hls.Codec.IsVideo()
	if video && u.Key {
		if x.keysFed > 0 {
			x.keyGap.Store(int64(u.PTS - x.lastKeyPTS))
		}
		x.keysFed, x.lastKeyPTS = x.keysFed+1, u.PTS
		x.last.Store(u)
	}
	x.rate.add(u, video && u.Key, x.hasVideo)
	ntp := r.WallClock(u.PTS)
	pts := media.DurationToClock(u.PTS, int64(t.hls.ClockRate))
	var err error
	switch t.hls.Codec.(type) {
	case *codecs.H264:
		err = x.hm.WriteH264(t.hls, ntp, pts, u.Payload)
	case *codecs.H265:
		err = x.hm.WriteH265(t.hls, ntp, pts, u.Payload)
	case *codecs.MPEG4Audio:
		err = x.hm.WriteMPEG4Audio(t.hls, ntp, pts, u.Payload)
	case *codecs.Opus:
		err = x.hm.WriteOpus(t.hls, ntp, pts, u.Payload)
	}
	if err != nil {
		x.mgr.Metrics().EncodeErrors.WithLabelValues(string(x.key.variant)).Inc()
		x.logEncodeError(err)
	}
	if video && u.Key {
		x.fedKeyframe() // it may have closed a segment
		x.noteParts()
	}
}

// logEncodeError logs at most one encode error per 10 seconds; the counter
// has them all.
func (x *muxer) logEncodeError(err error) {
	now := time.Now().UnixNano()
	last := x.errLog.Load()
	if now-last >= int64(10*time.Second) && x.errLog.CompareAndSwap(last, now) {
		x.log.Warn("hls muxer refused a unit (further errors counted, logged every 10 s)", "error", err)
	}
}
