package httpapi

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"time"

	"vigil/internal/access"
	"vigil/internal/auth"
	"vigil/internal/webrtc"
)

// maxOffer bounds a WHEP offer; browsers' offers are a few KiB.
const maxOffer = 64 << 10

// whepRoutes registers WebRTC playback (WHEP, draft-ietf-wish-whep; RFC
// 9725 is WHIP, its publishing twin): POST an SDP offer for a camera, get
// the answer and the session's URL; DELETE that URL to hang up. Trickle ICE
// (PATCH) is not supported: the mux answers 405 with an Allow header, as
// the draft lets a server do.
func (m *Media) whepRoutes(mux *Router) {
	mux.Handle("POST /api/cameras/{id}/whep", serve(m.Logger, m.Authn.viewing(m.whepOffer)))
	mux.Handle("DELETE /api/cameras/{id}/whep/{session}", serve(m.Logger, m.Authn.viewing(m.whepEnd)))
	mux.Handle("GET /api/cameras/{id}/whep/{session}", serve(m.Logger, m.Authn.viewing(m.whepMode)))
}

// whepOffer authorizes the viewer exactly as the other outputs do, opens
// the camera stream with the viewer's grant and hands it to the WebRTC
// server with the offer. The viewing session is recorded in the access
// history once the peer connects, before any media goes out.
func (m *Media) whepOffer(w http.ResponseWriter, r *http.Request) error {
	g, stream, err := m.viewerStream(r)
	if err != nil {
		return err
	}
	offer, err := readOffer(w, r)
	if err != nil {
		return err
	}
	ss, err := m.Watch(r, g, stream, offer)
	if err != nil {
		return err
	}
	loc := "/api/cameras/" + url.PathEscape(string(g.Device())) + "/whep/" + url.PathEscape(ss.ID())
	if t := r.URL.Query().Get("token"); t != "" {
		// A player that signed in with a stream token hangs up with it too.
		loc += "?" + url.Values{"token": {t}}.Encode()
	}
	h := w.Header()
	h.Set("Content-Type", "application/sdp")
	h.Set("Location", loc)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, ss.Answer())
	m.Logger.Debug("webrtc session negotiated", "camera", g.Device(), "user", g.User(), "session", ss.ID())
	return nil
}

// Watch opens the camera stream with the viewer's grant and hands it to
// the WebRTC server with the offer; the viewing session is recorded in the
// access history once the peer connects. WHEP and Google's signaling use it.
func (m *Media) Watch(r *http.Request, g access.Grant, stream access.StreamID, offer string) (*webrtc.Session, error) {
	// One GOP back: the session measures the camera's rate on the GOP
	// before the cached one, so that it can judge the path at once.
	rd, err := m.Hub.ReadBack(g, stream)
	if err != nil {
		return nil, notFoundUnless(err)
	}
	return m.WebRTC.Negotiate(r.Context(), webrtc.Offer{SDP: offer, Source: rd, Record: m.Record, Remote: r.RemoteAddr,
		Stream: stream, Open: m.opener(callerOf(r), g.Device())})
}

// opener opens another stream of device for the caller when a WebRTC
// session adapts to its path, one GOP back, as Watch does. Every call mints the grant afresh, as for a
// new request: a token minted for one stream opens no other, and a share
// revoked meanwhile opens nothing.
func (m *Media) opener(c auth.Caller, device access.DeviceID) webrtc.Opener {
	return func(stream access.StreamID) (webrtc.Source, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		g, err := m.Accounts.Grant(ctx, c, viewUse(device, stream))
		if err != nil {
			return nil, err
		}
		return m.Hub.ReadBack(g, stream)
	}
}

// EndWatch hangs up one of the grant's user's sessions of its camera.
func (m *Media) EndWatch(ctx context.Context, g access.Grant, id string) error {
	return m.WebRTC.End(ctx, g.User(), g.Device(), id)
}

// readOffer reads an application/sdp body of at most maxOffer bytes.
func readOffer(w http.ResponseWriter, r *http.Request) (string, error) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/sdp" {
		return "", httpError(http.StatusUnsupportedMediaType, "the body must be an SDP offer (Content-Type: application/sdp)", err)
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxOffer))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return "", httpError(http.StatusRequestEntityTooLarge, "the offer is larger than 64 KiB", err)
	case err != nil:
		return "", httpError(http.StatusBadRequest, "could not read the offer", err)
	}
	return string(b), nil
}

// whepEnd hangs up one of the caller's own sessions of this camera; any
// other session id, someone else's included, is "no such session".
func (m *Media) whepEnd(w http.ResponseWriter, r *http.Request) error {
	g, err := viewerGrant(m.Accounts, r, "")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	err = m.EndWatch(ctx, g, r.PathValue("session"))
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// whepMode tells one of the caller's own sessions' mode, which the page
// shows: {"mode": "main" | "sub" | "keyframes" | "stills"}.
func (m *Media) whepMode(w http.ResponseWriter, r *http.Request) error {
	g, err := viewerGrant(m.Accounts, r, "")
	if err != nil {
		return err
	}
	mode, err := m.WebRTC.Mode(g.User(), g.Device(), r.PathValue("session"))
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	return writeJSON(w, http.StatusOK, map[string]string{"mode": mode.String()})
}
