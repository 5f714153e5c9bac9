package webrtc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	pion "github.com/pion/webrtc/v4"

	"vigil/internal/access"
	"vigil/internal/audit"
	"vigil/internal/hub"
	"vigil/internal/media"
)

// Source is a camera stream opened with a viewer's grant: a *hub.Reader.
// It replays the cached GOP from its keyframe first, so the first picture
// goes out as soon as the peer connects.
type Source interface {
	Tracks() []*media.Track
	Next(ctx context.Context) (*media.Unit, error)
	// Egress is the check of invariant 3, run right before a unit's bytes
	// are written.
	Egress(u *media.Unit) error
	Grant() access.Grant
	Close()
}

var _ Source = (*hub.Reader)(nil)

// Session is one peer's WebRTC session: a PeerConnection sending one
// camera stream. Its goroutine sends the source's units once the peer has
// connected and tears everything down when the session ends.
type Session struct {
	id      string
	user    access.UserID
	device  access.DeviceID
	answer  string
	srv     *Server
	pc      *pion.PeerConnection
	src     Source
	pending []*media.Unit // units drained from src while negotiating, sent first
	tracks  []*track      // by the source's track index; nil for tracks not sent
	// ad adapts what is sent to the path (nil: no estimate). src and
	// tracks change when it switches streams, on the session's goroutine.
	ad      *adapter
	resend  *resendLimit    // the PeerConnection's bound on retransmissions
	record  *audit.Recorder // with remote, the access history; nil records nothing
	remote  string
	log     *slog.Logger
	created time.Time

	ctx       context.Context // ends the session; its cause is why
	cancel    context.CancelCauseFunc
	connected chan struct{} // closed when the peer connected
	connOnce  sync.Once
	rtcp      sync.WaitGroup // RTCP readers
	done      chan struct{}  // closed when torn down
	err       error          // why it ended; written before done closes
}

// ID names the session (128 random bits, text).
func (ss *Session) ID() string { return ss.id }

// Answer is the SDP answer for the peer, with the server's ICE candidates.
func (ss *Session) Answer() string { return ss.answer }

// Done is closed when the session has ended and everything it held
// (PeerConnection, sockets, source, goroutines) is released.
func (ss *Session) Done() <-chan struct{} { return ss.done }

// Err says why the session ended; it is nil until Done is closed.
func (ss *Session) Err() error {
	select {
	case <-ss.done:
		return ss.err
	default:
		return nil
	}
}

// Mode is what the session sends now: the main or sub stream, keyframes
// only or stills (ModeMain for a session that does not adapt).
func (ss *Session) Mode() Mode {
	if ss.ad == nil {
		return ModeMain
	}
	return Mode(ss.ad.mode.Load())
}

// Close ends the session (ErrEnded) without waiting; see Done.
func (ss *Session) Close() { ss.cancel(ErrEnded) }

// negotiate builds the session for o: everything Negotiate does but the
// bookkeeping. On an error everything it made is released, o.Source aside.
func (s *Server) negotiate(ctx context.Context, o Offer) (*Session, error) {
	off, err := parseOffer(o.SDP)
	if err != nil {
		return nil, err
	}
	// The GOP the source replays first: its keyframe's SPS is the stream's
	// profile as sent, and its frames show whether it has B-frames.
	units := drain(o.Source)
	tracks, err := pick(o.Source.Tracks(), off, units)
	if err != nil {
		return nil, err
	}
	// A source opened one GOP back (hub.ReadBack) replays the GOP before
	// the cached one too: it is measured (adapter.prime), not sent.
	k := lastKey(o.Source.Tracks(), units)
	back, pending := units[:k], units[k:]
	cert, err := s.certs.get()
	if err != nil {
		return nil, err
	}
	pc, err := s.api.NewPeerConnection(pion.Configuration{ICEServers: iceServers(s.cfg), Certificates: []pion.Certificate{cert}})
	if err != nil {
		return nil, fmt.Errorf("webrtc: new peer connection: %w", err)
	}
	g := o.Source.Grant()
	ss := &Session{id: newID(), user: g.User(), device: g.Device(), srv: s, pc: pc, src: o.Source,
		pending: pending, tracks: tracks, record: o.Record, remote: o.Remote, created: time.Now(),
		connected: make(chan struct{}), done: make(chan struct{})}
	if bwe, ok := s.est.take(pc.ID()).(*pathEstimate); ok {
		ss.ad = newAdapter(s.cfg.adapt, bwe, o.Open, o.streamOrMain())
		ss.ad.prime(back, tracks)
	}
	ss.resend = s.resends.take(pc.ID())
	ss.log = s.log.With("camera", ss.device, "user", ss.user, "session", ss.id)
	ss.ctx, ss.cancel = context.WithCancelCause(s.ctx)
	pc.OnConnectionStateChange(ss.onState)
	if err := ss.answerOffer(ctx, off); err != nil {
		ss.cancel(err)
		ss.closePeer()
		return nil, err
	}
	return ss, nil
}

// answerOffer adds the tracks to the PeerConnection, answers the offer and
// waits for the server's candidates.
func (ss *Session) answerOffer(ctx context.Context, off offer) error {
	pc := ss.pc
	if err := pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeOffer, SDP: off.sdp}); err != nil {
		return fmt.Errorf("%w: %w", ErrBadOffer, err)
	}
	for _, t := range ss.tracks {
		if t == nil {
			continue
		}
		sender, err := pc.AddTrack(t)
		if err != nil {
			return fmt.Errorf("webrtc: add %s track: %w", t.mime, err)
		}
		if t.carriers != nil {
			if err := preferCodecs(pc, sender, t.carriers); err != nil {
				return fmt.Errorf("webrtc: H.264 profiles: %w", err)
			}
		}
		ss.rtcp.Add(1)
		go ss.readRTCP(sender)
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return fmt.Errorf("%w: create answer: %w", ErrBadOffer, err)
	}
	gathered := pion.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		return fmt.Errorf("%w: set answer: %w", ErrNoH264, err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
	}
	if ctx.Err() != nil { // the peer left while we gathered: no one to answer
		return fmt.Errorf("webrtc: gathering ICE candidates: %w", context.Cause(ctx))
	}
	ss.answer = pc.LocalDescription().SDP
	return nil
}

// pick chooses the camera tracks to send: the first video track, which
// must be H.264 without B-frames in a profile that one the offer receives
// decodes (units are the GOP the source replays first), and the first
// audio track in a codec WebRTC carries (Opus, G.711 at 8 kHz mono) that
// the offer receives. AAC is left out: browsers do not take it over WebRTC.
func pick(cam []*media.Track, off offer, units []*media.Unit) ([]*track, error) {
	out := make([]*track, len(cam))
	video, audio := false, false
	for i, ct := range cam {
		switch {
		case ct.Kind == media.Video && !video:
			video = true
			if _, ok := ct.Format.(*format.H264); !ok {
				return nil, fmt.Errorf("%w: %s", ErrCodec, ct.Codec())
			}
			t, err := newTrack(ct.Format)
			if err != nil {
				return nil, err
			}
			v := videoOf(ct, i, units)
			if v.reorder {
				return nil, ErrBFrames
			}
			if t.carriers = v.carriers(off); len(t.carriers) == 0 {
				return nil, fmt.Errorf("%w: camera %s, offer %s", ErrProfile, v.plid, strings.Join(off.h264Profiles, " "))
			}
			t.profile = v.plid
			out[i] = t
		case ct.Kind == media.Audio && !audio:
			t, err := newTrack(ct.Format)
			if err != nil {
				return nil, err
			}
			if t != nil && off.audio[t.codecName()] {
				out[i], audio = t, true
			}
		}
	}
	if !video {
		return nil, fmt.Errorf("%w: the camera sends no video", ErrCodec)
	}
	return out, nil
}

// onState follows the PeerConnection. pion calls it from its own
// goroutines, so it only signals; the session's goroutine does the work.
func (ss *Session) onState(st pion.PeerConnectionState) {
	switch st {
	case pion.PeerConnectionStateConnected:
		ss.connOnce.Do(func() { close(ss.connected) })
	case pion.PeerConnectionStateFailed, pion.PeerConnectionStateClosed:
		ss.cancel(ErrPeerGone)
	}
}

// readRTCP reads the peer's RTCP for one sender until the PeerConnection
// closes: pion's interceptors (NACK retransmissions, sender reports) act
// on what is read.
func (ss *Session) readRTCP(sender *pion.RTPSender) {
	defer ss.rtcp.Done()
	buf := make([]byte, 1500)
	for {
		if _, _, err := sender.Read(buf); err != nil {
			return
		}
	}
}

// closePeer closes the PeerConnection, waits for pion's goroutines and
// the RTCP readers, and so releases the session's sockets.
func (ss *Session) closePeer() {
	if err := ss.pc.GracefulClose(); err != nil {
		ss.log.Debug("webrtc: closing peer connection", "error", err)
	}
	ss.rtcp.Wait()
}

// run is the session's goroutine.
func (ss *Session) run() {
	defer ss.srv.wg.Done()
	ss.cancel(ss.stream())
	err := context.Cause(ss.ctx)
	ss.src.Close()
	ss.closePeer()
	ss.srv.remove(ss)
	ss.srv.cfg.Metrics.Ended.WithLabelValues(reason(err)).Inc()
	level := slog.LevelInfo
	if errors.Is(err, errEgress) && !errors.Is(err, access.ErrGrantExpired) && !errors.Is(err, access.ErrGrantRevoked) {
		level = slog.LevelError
	}
	ss.log.Log(context.Background(), level, "webrtc session ended", "reason", err,
		"duration", time.Since(ss.created).Round(time.Millisecond))
	ss.err = err
	close(ss.done)
}
