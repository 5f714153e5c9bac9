package webrtc

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"sync"

	pion "github.com/pion/webrtc/v4"

	"vigil/internal/access"
	"vigil/internal/audit"
	"vigil/internal/limit"
)

// Server negotiates WebRTC sessions and runs them. It is the signaling
// every WebRTC flow shares (WHEP, and the assistants' camera streams): an
// offer and an already granted Source go in, an answer and a Session come
// out; the session then lives on its own until it ends.
type Server struct {
	cfg     Config
	api     *pion.API
	est     *estimators         // each PeerConnection's bandwidth estimator until its session takes it
	resends *byPC[*resendLimit] // each PeerConnection's retransmission bound, likewise
	packets *packetizer
	certs   certs // the DTLS certificate every session presents
	log     *slog.Logger
	// ctx ends every session when the server closes.
	ctx    context.Context
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup // session goroutines

	mu       sync.Mutex
	sessions map[string]*Session // guarded by mu; negotiated sessions by id
	count    int                 // guarded by mu; sessions, negotiating ones included
	closed   bool                // guarded by mu
	// users counts sessions per user, negotiating ones included (the same
	// per-user cap as HTTP's long-lived outputs).
	users *limit.PerKey[access.UserID]
}

// New returns a server with cfg's defaults filled in.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	est, resends := &estimators{}, &byPC[*resendLimit]{}
	api, err := newAPI(cfg, est, resends)
	if err != nil {
		return nil, err
	}
	packets, err := newPacketizer()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	s := &Server{cfg: cfg, api: api, est: est, resends: resends, packets: packets, log: cfg.Logger, ctx: ctx, cancel: cancel,
		sessions: map[string]*Session{}, users: limit.NewPerKey[access.UserID](cfg.MaxSessionsPerUser)}
	// The certificate now, not at the first viewer's POST.
	if _, err := s.certs.get(); err != nil {
		cancel(err)
		return nil, err
	}
	return s, nil
}

// Offer is a peer's request for a session.
type Offer struct {
	// SDP is the peer's complete offer (ICE candidates gathered; trickle
	// ICE is not supported).
	SDP string
	// Source is the camera stream to send, opened with the viewer's grant.
	// Negotiate takes it over: the session closes it when it ends, and
	// Negotiate closes it when it fails.
	Source Source
	// Record records the viewing session in the access history, as from
	// Remote (the signaling client's address); nil records nothing. The
	// record starts once the peer has connected, before any media is sent;
	// if it fails, the session ends without sending any.
	Record *audit.Recorder
	Remote string
	// Stream is the stream Source is of; "" is the main stream.
	Stream access.StreamID
	// Open, if set, opens the camera's other stream for the viewer, with
	// a grant minted afresh: the session then moves between main and sub
	// as its path allows. Nil keeps the session on Source's stream (it
	// may still send keyframes only, or stills).
	Open Opener
}

// streamOrMain is the offer's stream, main when unset.
func (o Offer) streamOrMain() access.StreamID {
	if o.Stream == "" {
		return access.StreamMain
	}
	return o.Stream
}

// Negotiate answers an offer: it checks the offer and the camera's codecs,
// sets up a PeerConnection sending the camera's H.264 video (and Opus or
// G.711 audio when the camera has it and the offer takes it), gathers the
// server's ICE candidates (no trickle) and returns the session, whose
// Answer is the SDP for the peer. ctx bounds the negotiation only; the
// session runs until the peer goes, End, the source ends or the server
// closes. Errors: ErrBadOffer, ErrNoH264, ErrCodec, ErrBusy, ErrServerClosed,
// ctx's.
func (s *Server) Negotiate(ctx context.Context, o Offer) (*Session, error) {
	user := o.Source.Grant().User()
	if err := s.reserve(user); err != nil {
		o.Source.Close()
		return nil, err
	}
	ss, err := s.negotiate(ctx, o)
	if err != nil {
		o.Source.Close()
		s.release(user)
		return nil, err
	}
	s.mu.Lock()
	if s.closed { // Close ran while we negotiated
		s.mu.Unlock()
		ss.cancel(ErrServerClosed)
		ss.closePeer()
		o.Source.Close()
		s.release(user)
		return nil, ErrServerClosed
	}
	s.sessions[ss.id] = ss
	s.wg.Add(1) // under mu, so that Close, which sets closed first, waits for it
	s.mu.Unlock()
	s.cfg.Metrics.Sessions.Inc()
	go ss.run()
	return ss, nil
}

// reserve counts a new session against the limits.
func (s *Server) reserve(user access.UserID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return ErrServerClosed
	case s.count >= s.cfg.MaxSessions:
		return fmt.Errorf("%w: the server has %d", ErrBusy, s.count)
	case !s.users.Take(user):
		return fmt.Errorf("%w: user %s has %d", ErrBusy, user, s.users.Held(user))
	}
	s.count++
	return nil
}

// release gives back a session's place.
func (s *Server) release(user access.UserID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.count--
	s.users.Give(user)
}

// remove forgets an ended session.
func (s *Server) remove(ss *Session) {
	s.mu.Lock()
	if s.sessions[ss.id] == ss {
		delete(s.sessions, ss.id)
	}
	s.mu.Unlock()
	s.release(ss.user)
	s.cfg.Metrics.Sessions.Dec()
}

// End ends user's session id of device's stream and waits until it is
// torn down (or ctx ends). A session of another user or camera is
// ErrNoSession, as is one that does not exist: nobody can end, or learn
// of, someone else's session.
func (s *Server) End(ctx context.Context, user access.UserID, device access.DeviceID, id string) error {
	s.mu.Lock()
	ss := s.sessions[id]
	s.mu.Unlock()
	if ss == nil || ss.user != user || ss.device != device {
		return ErrNoSession
	}
	ss.Close()
	select {
	case <-ss.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Mode is what user's session id of device's stream sends now; a session
// of another user or camera is ErrNoSession, as for End.
func (s *Server) Mode(user access.UserID, device access.DeviceID, id string) (Mode, error) {
	s.mu.Lock()
	ss := s.sessions[id]
	s.mu.Unlock()
	if ss == nil || ss.user != user || ss.device != device {
		return 0, ErrNoSession
	}
	return ss.Mode(), nil
}

// Sessions returns the number of live sessions, negotiating ones included.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count
}

// Run waits for ctx to end, then closes the server.
func (s *Server) Run(ctx context.Context) error {
	<-ctx.Done()
	s.Close()
	return nil
}

// Close ends every session, refuses new ones and waits until all are torn
// down. It is safe to call more than once.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel(ErrServerClosed)
	s.wg.Wait()
}

// newID returns a session id: 128 random bits, so that ids cannot be guessed.
func newID() string { return rand.Text() }
