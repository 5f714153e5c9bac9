package webrtc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	pion "github.com/pion/webrtc/v4"
	"golang.org/x/time/rate"

	"vigil/internal/access"
	"vigil/internal/media"
)

// A session's packets are paced: paceRate (20 Mbit/s) is well above a
// camera's bitrate, so live video is never held back, but the GOP replayed
// when a peer connects (a megabyte for two seconds of 4 Mbit/s video) goes
// out over a few hundred milliseconds rather than at once. At once, it
// would overflow the peer's socket buffer (about 100 packets by default on
// Linux) or a router's queue, and the losses would come faster than NACKs
// can ask for them again (pion's NACK window is 512 packets, its responder
// keeps 1024, about half a second at this rate). paceBurst goes out at once.
const (
	paceRate  = rate.Limit(20e6 / 8) // bytes per second
	paceBurst = 64 << 10
)

// stream waits for the peer to connect, then sends the source's units
// until something ends the session; it returns why.
func (ss *Session) stream() error {
	if err := ss.waitConnected(); err != nil {
		return err
	}
	rec, err := ss.record.Start(ss.src.Grant(), "webrtc", ss.remote)
	if err != nil {
		return fmt.Errorf("webrtc: access history: %w", err)
	}
	defer rec.End()
	ss.log.Debug("webrtc peer connected", "after", time.Since(ss.created).Round(time.Millisecond))
	bytes := ss.srv.cfg.Metrics.Bytes
	pace := rate.NewLimiter(paceRate, paceBurst)
	defer ss.ad.closePending()
	for {
		u, err := ss.next()
		if err != nil {
			if ss.ctx.Err() != nil {
				return context.Cause(ss.ctx)
			}
			return err
		}
		if u = ss.adapt(u); u == nil {
			continue // left out by the mode, or cut short by a switch
		}
		if u.Track >= len(ss.tracks) || ss.tracks[u.Track] == nil {
			continue // a track not sent (AAC, a second video)
		}
		t := ss.tracks[u.Track]
		if t.kind == pion.RTPCodecTypeVideo && hasBSlice(u.Payload) {
			return ErrBFrames // the camera started sending them: the page falls back
		}
		// Invariant 3: right before the unit's bytes leave. On a refusal
		// nothing of it is written and the session ends.
		if err := ss.src.Egress(u); err != nil {
			return fmt.Errorf("%w: %w", errEgress, err)
		}
		pts := u.PTS
		if ss.ad != nil {
			pts += ss.ad.shift
			ss.ad.sent(u, pts, t.kind == pion.RTPCodecTypeVideo)
			ss.ad.pace(pace, len(ss.pending) > 0)
		}
		n, err := t.write(ss.ctx, u, pts, ss.srv.packets, pace)
		if n > 0 {
			rec.Add(n)
			bytes.Add(float64(n))
		}
		if ss.ctx.Err() != nil {
			return context.Cause(ss.ctx)
		}
		if errors.Is(err, io.ErrClosedPipe) {
			return fmt.Errorf("%w: %w", ErrPeerGone, err)
		}
		if err != nil {
			return err
		}
	}
}

// next returns the units drained while negotiating, then the source's.
func (ss *Session) next() (*media.Unit, error) {
	if len(ss.pending) > 0 {
		u := ss.pending[0]
		ss.pending[0] = nil
		ss.pending = ss.pending[1:]
		return u, nil
	}
	return ss.src.Next(ss.ctx)
}

// waitConnected waits until the peer has connected (ICE and DTLS, so SRTP
// is keyed and nothing written is lost), at most NegotiationTimeout.
// The grant is watched meanwhile: a revoked share ends a session that has
// not started sending too.
func (ss *Session) waitConnected() error {
	timer := time.NewTimer(ss.srv.cfg.NegotiationTimeout)
	defer timer.Stop()
	select {
	case <-ss.connected:
		return nil
	case <-timer.C:
		return ErrNegotiationTimeout
	case <-ss.ctx.Done():
		return context.Cause(ss.ctx)
	case <-ss.src.Grant().Done():
		return access.ErrGrantRevoked
	}
}
