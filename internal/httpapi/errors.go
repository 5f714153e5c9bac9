package httpapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"
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
		var he *HTTPError
		if !errors.As(err, &he) {
			he = httpError(http.StatusInternalServerError, "internal error", err)
		}
		level := slog.LevelDebug
		if he.Code >= 500 && he.RetryAfter == 0 { // shedding load is no error
			level = slog.LevelError
		}
		log.Log(r.Context(), level, "http request failed", "method", r.Method, "path", r.URL.Path,
			"camera", r.PathValue("id"), "client", r.RemoteAddr, "status", he.Code, "error", he.Err)
		if he.RetryAfter > 0 {
			w.Header().Set("Retry-After", retryAfter(he.RetryAfter))
		}
		if he.Code == http.StatusUnauthorized && wantsChallenge(r) {
			w.Header().Set("WWW-Authenticate", `Basic realm="vigil"`)
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
