package httpapi

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"

	"vigil/internal/access"
	"vigil/internal/auth"
	"vigil/internal/webrtc"
)

// Google's WebRTC camera flow: EXECUTE answers with this signaling URL and
// a stream token; the display POSTs {action: offer|answer|end, deviceId,
// sdp} with the token as a bearer — in "Authorization", or in
// "Authentication" as Google's sample names it. An offer gets
// {action: "answer", sdp}; answer and end get {}. No trickle ICE. The
// display's page is served from Google's origin, so the route answers
// CORS for it (googleOrigin).
const googleOrigin = "https://www.gstatic.com"

// googleRTC remembers which live sessions each token opened, so that "end"
// (which names no session) hangs up the right ones.
type googleRTC struct {
	mu       sync.Mutex
	sessions map[[32]byte][]string // guarded by mu; by SHA-256 of the token
}

func (m *Media) googleRoutes(mux *Router) {
	mux.Handle("POST /api/cameras/{id}/google/webrtc", serve(m.Logger, m.googleSignal))
	mux.Handle("OPTIONS /api/cameras/{id}/google/webrtc", http.HandlerFunc(googlePreflight))
}

func googleCORS(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Origin") == googleOrigin {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", googleOrigin)
		h.Add("Vary", "Origin")
		h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "Authorization, Authentication, Content-Type")
		h.Set("Access-Control-Max-Age", "600")
	}
}

func googlePreflight(w http.ResponseWriter, r *http.Request) {
	googleCORS(w, r)
	w.WriteHeader(http.StatusNoContent)
}

type googleSignal struct {
	Action   string `json:"action"`
	DeviceID string `json:"deviceId"`
	SDP      string `json:"sdp"`
}

func (m *Media) googleSignal(w http.ResponseWriter, r *http.Request) error {
	googleCORS(w, r)
	device, err := access.ParseDeviceID(r.PathValue("id"))
	if err != nil {
		return errNotFound
	}
	tok := bearer(r)
	if tok == "" {
		return httpError(http.StatusUnauthorized, "the stream token from EXECUTE is required as a bearer", nil)
	}
	var msg googleSignal
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxOffer)).Decode(&msg); err != nil {
		return httpError(http.StatusBadRequest, "body must be {action, deviceId, sdp}", err)
	}
	if msg.DeviceID != "" && msg.DeviceID != string(device) {
		return httpError(http.StatusBadRequest, "deviceId is not the camera of this URL", nil)
	}
	use := auth.TokenUse{Device: device, Stream: access.StreamMain, Audiences: []access.Audience{access.AudienceGoogle}}
	g, _, err := m.Accounts.TokenGrant(r.Context(), tok, use)
	if err != nil {
		return notFoundUnless(err)
	}
	switch msg.Action {
	case "offer":
		return m.googleOffer(w, r, g, tok, msg.SDP)
	case "answer": // we never offer, so there is nothing to apply
	case "end":
		m.googleEnd(r, g, tok)
	default:
		return httpError(http.StatusBadRequest, "action must be offer, answer or end", nil)
	}
	return writeJSON(w, http.StatusOK, struct{}{})
}

func (m *Media) googleOffer(w http.ResponseWriter, r *http.Request, g access.Grant, tok, sdp string) error {
	ss, err := m.negotiate(w, r, g, access.StreamMain, sdp)
	if err != nil {
		return err
	}
	m.google.remember(tok, ss.ID())
	go func() { <-ss.Done(); m.google.drop(tok, ss.ID()) }()
	return writeJSON(w, http.StatusOK, map[string]string{"action": "answer", "sdp": ss.Answer()})
}

func (m *Media) googleEnd(r *http.Request, g access.Grant, tok string) {
	for _, id := range m.google.forget(tok) {
		if err := m.WebRTC.End(r.Context(), g.User(), g.Device(), id); err != nil && !errors.Is(err, webrtc.ErrNoSession) {
			m.Logger.Warn("google webrtc end failed", "camera", g.Device(), "error", err)
		}
	}
}

func (gr *googleRTC) remember(tok, id string) {
	k := sha256.Sum256([]byte(tok))
	gr.mu.Lock()
	defer gr.mu.Unlock()
	if gr.sessions == nil {
		gr.sessions = map[[32]byte][]string{}
	}
	gr.sessions[k] = append(gr.sessions[k], id)
}

// drop forgets a session that ended, so that the table holds live
// sessions only.
func (gr *googleRTC) drop(tok, id string) {
	k := sha256.Sum256([]byte(tok))
	gr.mu.Lock()
	defer gr.mu.Unlock()
	ids := slices.DeleteFunc(gr.sessions[k], func(s string) bool { return s == id })
	if len(ids) == 0 {
		delete(gr.sessions, k)
	} else {
		gr.sessions[k] = ids
	}
}

func (gr *googleRTC) forget(tok string) []string {
	k := sha256.Sum256([]byte(tok))
	gr.mu.Lock()
	defer gr.mu.Unlock()
	ids := gr.sessions[k]
	delete(gr.sessions, k)
	return ids
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
