package httpapi

import (
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"vigil/internal/access"
	"vigil/internal/auth"
)

// Defaults of the limits a Media or Config leaves zero.
const (
	defaultWriteTimeout      = 10 * time.Second
	defaultMaxOutputsPerUser = 16
)

// bodyDeadline gives a request's body timeout to arrive, from the end of its
// headers (http.Server's ReadTimeout would also cut off the long-lived
// responses, whose connection net/http keeps reading). A client trickling
// a body gets a read error and its connection is closed.
func bodyDeadline(timeout time.Duration, next http.Handler) http.Handler {
	if timeout <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			rc := http.NewResponseController(w)
			rc.SetReadDeadline(time.Now().Add(timeout))
			r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
		}
		next.ServeHTTP(w, r)
	})
}

// deadlineBody lifts the body's read deadline once the body has been read
// whole, so that a handler answering at length after it is not cut off.
type deadlineBody struct {
	io.ReadCloser
	rc *http.ResponseController
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// writeDeadline bounds every write of every response: before each write
// and flush the connection's write deadline is set timeout (<= 0: the
// default) ahead, so a client that takes nothing for that long gets a
// write error and its connection is closed, instead of holding the
// handler's goroutine and the socket's send buffer for as long as its
// receive window stays shut. http.Server's WriteTimeout would also cut off
// the long-lived media responses, which write for as long as they are
// watched; a deadline per write never cuts off a client that reads.
func writeDeadline(timeout time.Duration, next http.Handler) http.Handler {
	if timeout <= 0 {
		timeout = defaultWriteTimeout
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serveWithDeadline(w, r, timeout, nil, next)
	})
}

// serveWithDeadline serves next with every write bounded by timeout, each
// write's error handed to failed (nil: none).
func serveWithDeadline(w http.ResponseWriter, r *http.Request, timeout time.Duration, failed func(error), next http.Handler) {
	rc := http.NewResponseController(w)
	next.ServeHTTP(&deadlineWriter{ResponseWriter: w, rc: rc, timeout: timeout, failed: failed}, r)
	rc.SetWriteDeadline(time.Time{}) // the next request on this connection starts afresh
}

// deadlineWriter sets a write deadline timeout ahead before every write
// and flush, and hands each one's error to failed (nil: none).
type deadlineWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	failed  func(error)
}

func (w *deadlineWriter) Write(p []byte) (int, error) {
	w.rc.SetWriteDeadline(time.Now().Add(w.timeout))
	n, err := w.ResponseWriter.Write(p)
	w.note(err)
	return n, err
}

// FlushError is what http.ResponseController.Flush calls.
func (w *deadlineWriter) FlushError() error {
	w.rc.SetWriteDeadline(time.Now().Add(w.timeout))
	err := w.rc.Flush()
	w.note(err)
	return err
}

// Unwrap lets http.ResponseController reach the connection.
func (w *deadlineWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *deadlineWriter) note(err error) {
	if err != nil && w.failed != nil {
		w.failed(err)
	}
}

// writeDeadlines serves a media response with every write bounded by m's
// write timeout (a viewer that takes no data for that long is dropped, as
// RTSP's direct writer drops one) and counts the drops, labelled output.
// Under Handler every response already has a deadlineWriter: the media
// response takes it over rather than setting a second deadline per write.
func (m *Media) writeDeadlines(output string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dropped, counted := m.metrics.dropped.WithLabelValues(output), false
		failed := func(err error) {
			// Counted once, at the response's first write that timed out.
			if !counted && errors.Is(err, os.ErrDeadlineExceeded) {
				counted = true
				dropped.Inc()
			}
		}
		if dw := outerDeadline(w); dw != nil {
			dw.timeout, dw.failed = m.writeTimeout(), failed
			h.ServeHTTP(w, r) // writeDeadline clears the deadline after it
			return
		}
		serveWithDeadline(w, r, m.writeTimeout(), failed, h)
	})
}

// outerDeadline is the deadlineWriter w wraps (writeDeadline's), or nil.
func outerDeadline(w http.ResponseWriter) *deadlineWriter {
	for {
		switch x := w.(type) {
		case *deadlineWriter:
			return x
		case interface{ Unwrap() http.ResponseWriter }:
			w = x.Unwrap()
		default:
			return nil
		}
	}
}

func (m *Media) writeTimeout() time.Duration {
	if m.WriteTimeout > 0 {
		return m.WriteTimeout
	}
	return defaultWriteTimeout
}

// takeOutput counts one more long-lived output (MJPEG; live.mp4's View
// takes its own) against g's user, as the WebRTC server counts sessions,
// and returns what gives it back when the response ends. One past the cap
// is 429.
func (m *Media) takeOutput(g access.Grant) (release func(), err error) {
	if release, ok := m.outputs.Take(g.User()); ok {
		return release, nil
	}
	return nil, m.tooManyOutputs(auth.ErrTooManyViews)
}

// tooManyOutputs is the 429 of a user at the cap of long-lived outputs.
func (m *Media) tooManyOutputs(err error) error {
	return &HTTPError{Code: http.StatusTooManyRequests, RetryAfter: 5 * time.Second, Err: err,
		Msg: "too many live views open for this user (at most " + strconv.Itoa(m.outputs.Max()) + "); close one and retry"}
}
