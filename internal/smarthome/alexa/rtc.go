package alexa

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"vigil/internal/access"
	"vigil/internal/webrtc"
)

// negotiateBudget bounds answering an offer: Alexa waits about 6 s for
// AnswerGeneratedForSession, and the Lambda in between takes its share.
const negotiateBudget = 4 * time.Second

// maxSessionID bounds the session ids kept in the table.
const maxSessionID = 256

// Sessions is the table of live WebRTC views, keyed by (link, Alexa's
// session id): SessionDisconnected ends a session only for the link that
// opened it. An entry leaves when its session ends for any reason — the
// peer hung up or went silent, it never connected within the negotiation
// timeout, or its grant was revoked (a share ended, the link was unlinked:
// grants are leased to the link). Bounded: a full table refuses new views.
type Sessions struct {
	max int

	mu   sync.Mutex
	live map[sessionKey]View // guarded by mu
}

type sessionKey struct{ link, id string }

// NewSessions returns a table of at most max sessions.
func NewSessions(max int) *Sessions {
	return &Sessions{max: max, live: map[sessionKey]View{}}
}

// Len is the number of live sessions.
func (s *Sessions) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.live)
}

// put adds ss under k; a session already under k (Alexa offered again) is
// ended. It fails when the table is full.
func (s *Sessions) put(k sessionKey, ss View) error {
	s.mu.Lock()
	old := s.live[k]
	if old == nil && len(s.live) >= s.max {
		s.mu.Unlock()
		return webrtc.ErrBusy
	}
	s.live[k] = ss
	s.mu.Unlock()
	if old != nil {
		old.Close()
	}
	go func() { <-ss.Done(); s.drop(k, ss) }()
	return nil
}

// drop removes k if it still holds ss.
func (s *Sessions) drop(k sessionKey, ss View) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.live[k] == ss {
		delete(s.live, k)
	}
}

func (s *Sessions) get(k sessionKey) View {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.live[k]
}

type sdpValue struct {
	Format string `json:"format"`
	Value  string `json:"value"`
}

type sessionPayload struct {
	SessionID string    `json:"sessionId"`
	Offer     *sdpValue `json:"offer,omitempty"`
}

func parseSession(raw json.RawMessage) (sessionPayload, error) {
	var p sessionPayload
	if err := json.Unmarshal(raw, &p); err != nil || p.SessionID == "" || len(p.SessionID) > maxSessionID {
		return p, fail(errInvalidDirective, "payload.sessionId is required", err)
	}
	return p, nil
}

// initiateSession answers a WebRTC offer with the WHEP negotiation: all of
// our candidates in the answer (no trickle), video from the cached GOP.
func (x *Directives) initiateSession(ctx context.Context, c *call) (*response, error) {
	p, err := parseSession(c.d.Payload)
	if err != nil {
		return nil, err
	}
	if p.Offer == nil || p.Offer.Format != "SDP" || p.Offer.Value == "" {
		return nil, fail(errInvalidDirective, `payload.offer must be {format: "SDP", value}`, nil)
	}
	if x.Peers == nil {
		return nil, fail(errInvalidDirective, "WebRTC is off on this server", nil)
	}
	id := c.camera.ID
	if !x.Viewing.Online(id) {
		return nil, fail(errUnreachable, "the camera is offline", nil)
	}
	g, err := x.Viewing.Grant(ctx, c.link, id)
	if err != nil {
		return nil, noSuchEndpoint(err)
	}
	nctx, cancel := context.WithTimeout(ctx, negotiateBudget)
	defer cancel()
	ss, err := x.Peers.Watch(c.r.WithContext(nctx), g, access.StreamMain, p.Offer.Value)
	if err != nil {
		return nil, watchError(err)
	}
	if err := x.Sessions.put(sessionKey{c.link.ID, p.SessionID}, ss); err != nil {
		ss.Close()
		return nil, fail(errRateLimit, "too many live views", err)
	}
	return reply(c.d, "Alexa.RTCSessionController", "AnswerGeneratedForSession",
		map[string]any{"answer": sdpValue{Format: "SDP", Value: ss.Answer()}}), nil
}

// watchError maps a failed negotiation to what Alexa is told.
func watchError(err error) error {
	switch {
	case errors.Is(err, webrtc.ErrCodec):
		return &Error{Type: errNotInMode, Msg: "the camera's video cannot be sent over WebRTC (H.265)", Mode: "OTHER", Err: err}
	case errors.Is(err, webrtc.ErrBadOffer), errors.Is(err, webrtc.ErrNoH264):
		return fail(errInvalidValue, "the offer cannot receive H.264", err)
	case errors.Is(err, webrtc.ErrBusy):
		return fail(errRateLimit, "too many live views", err)
	}
	return err
}

// sessionConnected acknowledges a session Alexa reports connected.
func (x *Directives) sessionConnected(_ context.Context, c *call) (*response, error) {
	p, err := parseSession(c.d.Payload)
	if err != nil {
		return nil, err
	}
	return reply(c.d, "Alexa.RTCSessionController", "SessionConnected", map[string]string{"sessionId": p.SessionID}), nil
}

// sessionDisconnected ends the link's session of that id.
func (x *Directives) sessionDisconnected(_ context.Context, c *call) (*response, error) {
	p, err := parseSession(c.d.Payload)
	if err != nil {
		return nil, err
	}
	if ss := x.Sessions.get(sessionKey{c.link.ID, p.SessionID}); ss != nil {
		ss.Close()
	}
	return reply(c.d, "Alexa.RTCSessionController", "SessionDisconnected", map[string]string{"sessionId": p.SessionID}), nil
}
