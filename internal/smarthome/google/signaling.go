package google

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"

	"vigil/internal/access"
	"vigil/internal/webrtc"
)

// Origin is where a display's camera page is served from; the signaling
// route answers CORS for it alone.
const Origin = "https://www.gstatic.com"

// Errors of the signaling route.
var (
	// ErrBadSignal is a signaling message that is not {action, deviceId,
	// sdp} for the camera of its URL; its text says what is wrong.
	ErrBadSignal = errors.New("google webrtc signaling")
	// ErrNoBearer is a signaling message without the stream token.
	ErrNoBearer = errors.New("the stream token from EXECUTE is required as a bearer")
)

// maxSignal bounds a signaling message; an offer is a few KiB.
const maxSignal = 64 << 10

// Peers starts and ends a camera's WebRTC sessions for a grant.
type Peers interface {
	Watch(r *http.Request, g access.Grant, stream access.StreamID, sdp string) (*webrtc.Session, error)
	EndWatch(ctx context.Context, g access.Grant, id string) error
}

// Signaling is Google's WebRTC camera flow: EXECUTE answers with this
// route's URL and a stream token; the display POSTs {action:
// offer|answer|end, deviceId, sdp} with the token as a bearer — in
// "Authorization", or in "Authentication" as Google's sample names it. An
// offer gets {action: "answer", sdp}; answer and end get {}. No trickle ICE.
type Signaling struct {
	// Grant turns the display's stream token into a grant for device's
	// main stream (audience google), or fails as a token check does.
	Grant func(ctx context.Context, token string, device access.DeviceID) (access.Grant, error)
	Peers Peers
	// Logger defaults to slog.Default().
	Logger *slog.Logger

	mu       sync.Mutex
	sessions map[[32]byte][]string // guarded by mu; live session ids by SHA-256 of the token
}

type signal struct {
	Action   string `json:"action"`
	DeviceID string `json:"deviceId"`
	SDP      string `json:"sdp"`
}

// Preflight answers the display page's CORS preflight.
func (s *Signaling) Preflight(w http.ResponseWriter, r *http.Request) {
	cors(w, r)
	w.WriteHeader(http.StatusNoContent)
}

// Serve handles one signaling message for the camera of the path's {id}.
// It returns its failure for the caller's error table to answer; nothing
// has been written then.
func (s *Signaling) Serve(w http.ResponseWriter, r *http.Request) error {
	cors(w, r)
	device, err := access.ParseDeviceID(r.PathValue("id"))
	if err != nil {
		return err // access.ErrBadDeviceID: no such camera
	}
	tok := bearer(r)
	if tok == "" {
		return ErrNoBearer
	}
	var msg signal
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxSignal)).Decode(&msg); err != nil {
		return fmt.Errorf("%w: body must be {action, deviceId, sdp}", ErrBadSignal)
	}
	if msg.DeviceID != "" && msg.DeviceID != string(device) {
		return fmt.Errorf("%w: deviceId is not the camera of this URL", ErrBadSignal)
	}
	g, err := s.Grant(r.Context(), tok, device)
	if err != nil {
		return err
	}
	switch msg.Action {
	case "offer":
		return s.offer(w, r, g, tok, msg.SDP)
	case "answer": // we never offer, so there is nothing to apply
	case "end":
		s.end(r.Context(), g, tok)
	default:
		return fmt.Errorf("%w: action must be offer, answer or end", ErrBadSignal)
	}
	return reply(w, struct{}{})
}

func (s *Signaling) offer(w http.ResponseWriter, r *http.Request, g access.Grant, tok, sdp string) error {
	ss, err := s.Peers.Watch(r, g, access.StreamMain, sdp)
	if err != nil {
		return err
	}
	s.remember(tok, ss.ID())
	go func() { <-ss.Done(); s.drop(tok, ss.ID()) }()
	return reply(w, map[string]string{"action": "answer", "sdp": ss.Answer()})
}

// end hangs up every session the token opened ("end" names none).
func (s *Signaling) end(ctx context.Context, g access.Grant, tok string) {
	for _, id := range s.forget(tok) {
		if err := s.Peers.EndWatch(ctx, g, id); err != nil && !errors.Is(err, webrtc.ErrNoSession) {
			s.logger().Warn("google webrtc end failed", "camera", g.Device(), "error", err)
		}
	}
}

func (s *Signaling) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

func (s *Signaling) remember(tok, id string) {
	k := sha256.Sum256([]byte(tok))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sessions == nil {
		s.sessions = map[[32]byte][]string{}
	}
	s.sessions[k] = append(s.sessions[k], id)
}

// drop forgets a session that ended, so that the table holds live
// sessions only.
func (s *Signaling) drop(tok, id string) {
	k := sha256.Sum256([]byte(tok))
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := slices.DeleteFunc(s.sessions[k], func(x string) bool { return x == id })
	if len(ids) == 0 {
		delete(s.sessions, k)
	} else {
		s.sessions[k] = ids
	}
}

func (s *Signaling) forget(tok string) []string {
	k := sha256.Sum256([]byte(tok))
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := s.sessions[k]
	delete(s.sessions, k)
	return ids
}

func cors(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Origin") == Origin {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", Origin)
		h.Add("Vary", "Origin")
		h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "Authorization, Authentication, Content-Type")
		h.Set("Access-Control-Max-Age", "600")
	}
}

// bearer returns the token of an "Authorization: Bearer" header, or of
// "Authentication: Bearer" as Google's WebRTC sample sends it.
func bearer(r *http.Request) string {
	for _, h := range []string{"Authorization", "Authentication"} {
		if t, ok := strings.CutPrefix(r.Header.Get(h), "Bearer "); ok {
			return strings.TrimSpace(t)
		}
	}
	return ""
}

func reply(w http.ResponseWriter, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	return json.NewEncoder(w).Encode(v)
}
