package httpapi

import (
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

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

// mediaWriter sets a write deadline before every write and flush of a media
// response: a viewer that takes no data for timeout gets a write error, the
// output ends and its connection is closed (and the drop is counted), as
// RTSP's direct writer does, instead of holding a goroutine, a hub reader
// and the socket's send buffer for as long as the viewer likes.
type mediaWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	dropped prometheus.Counter
	counted bool
}

func (w *mediaWriter) Write(p []byte) (int, error) {
	w.rc.SetWriteDeadline(time.Now().Add(w.timeout))
	n, err := w.ResponseWriter.Write(p)
	w.note(err)
	return n, err
}

// FlushError is what http.ResponseController.Flush calls.
func (w *mediaWriter) FlushError() error {
	w.rc.SetWriteDeadline(time.Now().Add(w.timeout))
	err := w.rc.Flush()
	w.note(err)
	return err
}

// Unwrap lets http.ResponseController reach the connection.
func (w *mediaWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// note counts the response as dropped at its first write that timed out.
func (w *mediaWriter) note(err error) {
	if err != nil && !w.counted && errors.Is(err, os.ErrDeadlineExceeded) {
		w.counted = true
		w.dropped.Inc()
	}
}

// writeDeadlines serves h with every write bounded by m's write timeout;
// output labels the drops.
func (m *Media) writeDeadlines(output string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		mw := &mediaWriter{ResponseWriter: w, rc: rc, timeout: m.writeTimeout(),
			dropped: m.metrics.dropped.WithLabelValues(output)}
		h.ServeHTTP(mw, r)
		rc.SetWriteDeadline(time.Time{}) // the next request on this connection starts afresh
	})
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
