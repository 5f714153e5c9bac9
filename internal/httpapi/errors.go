package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"vigil/internal/access"
	"vigil/internal/audit"
	"vigil/internal/auth"
	"vigil/internal/hls"
	"vigil/internal/hub"
	"vigil/internal/record"
	"vigil/internal/smarthome/google"
	"vigil/internal/stills"
	"vigil/internal/store"
	"vigil/internal/webrtc"
)

// HTTPError keeps what a client is told apart from what is logged: Msg
// reaches the response, Err only the log.
type HTTPError struct {
	Code int
	Msg  string
	Err  error
	// RetryAfter, when positive, is sent as Retry-After (whole seconds,
	// rounded up) with a 429 or 503.
	RetryAfter time.Duration
}

func (e *HTTPError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%d %s: %v", e.Code, e.Msg, e.Err)
	}
	return fmt.Sprintf("%d %s", e.Code, e.Msg)
}

func (e *HTTPError) Unwrap() error { return e.Err }

func httpError(code int, msg string, err error) *HTTPError {
	return &HTTPError{Code: code, Msg: msg, Err: err}
}

// ownText marks a table entry whose client text is the error's own: the
// error describes only what the client sent.
const ownText = ""

// noBody marks a table entry answered with its status alone: a refusal
// that must not carry a byte that could tell the client anything.
const noBody = "\x00"

// clientErrors is the one table from the domain's errors to what a client
// is told, first match wins. An error that is neither here nor an
// *HTTPError is unexpected: 500 with a generic text, the detail logged.
var clientErrors = []struct {
	err  error
	code int
	msg  string
}{
	// First, so that no cause they wrap can give a refusal a body.
	{hls.ErrRefused, http.StatusForbidden, noBody},
	{hls.ErrNoFile, http.StatusNotFound, noBody},
	// Sign-in first: what they wrap (an unknown or disabled user) is told
	// to nobody.
	{auth.ErrWrongPassword, http.StatusUnauthorized, "wrong user or password"},
	{auth.ErrSessionEnded, http.StatusUnauthorized, "session ended; sign in again"},
	{auth.ErrNotPassword, http.StatusUnauthorized, "sign in with the password, not an API token"},
	{auth.ErrNoCredentials, http.StatusUnauthorized, "credentials required"},
	{auth.ErrCSRF, http.StatusForbidden, "missing or wrong " + csrfHeader},
	{access.ErrBadDeviceID, http.StatusNotFound, "no such camera"},
	{auth.ErrUnknown, http.StatusNotFound, "no such camera, user or code"},
	{auth.ErrForbidden, http.StatusNotFound, "no such camera, user or code"}, // no probing for ids
	{auth.ErrDisabled, http.StatusForbidden, "account or camera disabled"},
	{auth.ErrInvalid, http.StatusBadRequest, ownText},
	{auth.ErrRefused, http.StatusForbidden, ownText},
	{auth.ErrNameTaken, http.StatusConflict, ownText},
	{auth.ErrInvitation, http.StatusForbidden, ownText},
	{auth.ErrWeakPassword, http.StatusBadRequest, ownText},
	{auth.ErrHashBusy, http.StatusServiceUnavailable, ownText},
	{auth.ErrBadToken, http.StatusUnauthorized, "stream token invalid, expired or revoked"},
	{auth.ErrTokenExpired, http.StatusUnauthorized, "stream token invalid, expired or revoked"},
	{auth.ErrTokenRevoked, http.StatusUnauthorized, "stream token invalid, expired or revoked"},
	{auth.ErrTokenMisused, http.StatusForbidden, "stream token is for another camera, stream or kind of client"},
	{stills.ErrTooOld, http.StatusServiceUnavailable, "no still fresh enough; the camera may be offline"},
	{stills.ErrBusy, http.StatusServiceUnavailable, "the still is not ready; retry shortly"},
	{stills.ErrDecode, http.StatusServiceUnavailable, "the still is not ready; retry shortly"},
	{stills.ErrNotJPEG, http.StatusUnsupportedMediaType, "the body must be a JPEG image"},
	{stills.ErrTooLarge, http.StatusRequestEntityTooLarge, "the still is too large"},
	{hls.ErrOffline, http.StatusServiceUnavailable, "camera offline"},
	{hls.ErrNotReady, http.StatusServiceUnavailable, "camera has sent no picture yet"},
	{hls.ErrIdle, http.StatusServiceUnavailable, "stream restarting, retry"},
	{hls.ErrStalled, http.StatusServiceUnavailable, "stream restarting, retry"},
	{hls.ErrClosed, http.StatusServiceUnavailable, "shutting down, retry"},
	{hls.ErrUnsupported, http.StatusNotFound, "variant not available for this camera"},
	{hls.ErrNoTracks, http.StatusNotFound, "variant not available for this camera"},
	{hls.ErrBadRequest, http.StatusBadRequest, ownText},
	{hub.ErrOffline, http.StatusServiceUnavailable, "camera is offline"},
	{audit.ErrUnrecorded, http.StatusServiceUnavailable, "viewing is not possible right now"},
	{store.ErrBusy, http.StatusServiceUnavailable, "busy for a moment; nothing was changed, retry shortly"},
	{hub.ErrReplaced, http.StatusServiceUnavailable, "camera reconnected; retry"},
	{webrtc.ErrBadOffer, http.StatusBadRequest, ownText},
	{webrtc.ErrNoH264, http.StatusBadRequest, ownText},
	{webrtc.ErrCodec, http.StatusUnprocessableEntity, "camera codec not supported by WebRTC; play live.mp4 or HLS instead"},
	{webrtc.ErrBFrames, http.StatusUnprocessableEntity, "the camera's video has B-frames, which WebRTC players show as a slideshow; play live.mp4 or HLS instead"},
	{webrtc.ErrProfile, http.StatusUnprocessableEntity, "this player cannot decode the camera's H.264 profile over WebRTC; play live.mp4 or HLS instead"},
	{webrtc.ErrBusy, http.StatusServiceUnavailable, "too many WebRTC sessions; retry later"},
	{google.ErrBadSignal, http.StatusBadRequest, ownText},
	{google.ErrNoBearer, http.StatusUnauthorized, ownText},
	{webrtc.ErrNoSession, http.StatusNotFound, "no such session"},
	{record.ErrTooManyEvents, http.StatusTooManyRequests, ownText},
	{record.ErrBadEvent, http.StatusBadRequest, ownText},
	{record.ErrBadPin, http.StatusBadRequest, ownText},
	{record.ErrTooManyPins, http.StatusConflict, ownText},
	{record.ErrNoPin, http.StatusNotFound, ownText},
	{context.Canceled, http.StatusRequestTimeout, "the request ended before the answer was ready"},
	{context.DeadlineExceeded, http.StatusRequestTimeout, "the request ended before the answer was ready"},
}

// retryWhen is when to try again after a refusal that passes.
var retryWhen = map[error]time.Duration{webrtc.ErrBusy: 5 * time.Second, auth.ErrHashBusy: time.Second,
	stills.ErrBusy: 2 * time.Second, stills.ErrDecode: 2 * time.Second,
	hls.ErrNotReady: time.Second, record.ErrTooManyEvents: time.Second, store.ErrBusy: time.Second, audit.ErrUnrecorded: time.Second, hls.ErrIdle: time.Second, hls.ErrStalled: time.Second}

// clientError is what the client is told of err.
func clientError(err error) *HTTPError {
	var he *HTTPError
	if errors.As(err, &he) {
		return he
	}
	if tooBig := new(http.MaxBytesError); errors.As(err, &tooBig) {
		return httpError(http.StatusRequestEntityTooLarge, "request body too large", err)
	}
	for _, e := range clientErrors {
		if errors.Is(err, e.err) {
			msg := e.msg
			switch msg {
			case ownText:
				msg = err.Error()
			case noBody:
				msg = ""
			}
			return &HTTPError{Code: e.code, Msg: msg, Err: err, RetryAfter: retryWhen[e.err]}
		}
	}
	return httpError(http.StatusInternalServerError, "internal error", err)
}

// handlerFunc is a handler that returns its failure. Nothing may have been
// written when it returns an error: the error becomes the whole response.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// serve adapts h, logging failures with the request's camera.
func serve(log *slog.Logger, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := h(w, r)
		if err == nil {
			return
		}
		he := clientError(err)
		// Only what Vigil did not expect is an error: an offline camera or
		// shed load is the client's news (and would log on every refresh),
		// a viewing session that could not be recorded is the store's failure.
		level := slog.LevelDebug
		if he.Code == http.StatusInternalServerError || errors.Is(err, audit.ErrUnrecorded) {
			level = slog.LevelError
		}
		log.Log(r.Context(), level, "http request failed", "method", r.Method, "path", r.URL.Path,
			"camera", r.PathValue("id"), "client", r.RemoteAddr, "status", he.Code, "error", he.Err)
		w.Header().Set("Cache-Control", "no-store") // an answer for now, not for a cache
		if he.RetryAfter > 0 {
			w.Header().Set("Retry-After", retryAfter(he.RetryAfter))
		}
		if he.Code == http.StatusUnauthorized && wantsChallenge(r) {
			w.Header().Set("WWW-Authenticate", `Basic realm="vigil"`)
		}
		if he.Msg == "" { // a refusal: the status alone
			w.Header().Set("Content-Length", "0")
			w.WriteHeader(he.Code)
			return
		}
		http.Error(w, he.Msg, he.Code)
	})
}

// wantsChallenge reports whether a 401 should offer Basic: to tools and
// players (no Sec-Fetch-Mode) and to a person typing a URL, but not to the
// web page's own fetches and media elements, where the browser would pop
// up its password dialog over the page's sign-in form.
func wantsChallenge(r *http.Request) bool {
	mode := r.Header.Get("Sec-Fetch-Mode")
	return mode == "" || mode == "navigate"
}

// retryAfter is d in whole seconds, rounded up, at least 1.
func retryAfter(d time.Duration) string {
	return strconv.Itoa(max(1, int((d+time.Second-1)/time.Second)))
}
