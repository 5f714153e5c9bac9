// Package hls serves a camera's live streams as HLS and Low-Latency HLS on
// gohlslib, plus our own multivariant playlist listing a camera's streams.
//
// One gohlslib Muxer runs per (device, stream, variant). It is made on the
// first request, fed by a hub reader opened with that request's grant, so it
// starts from the hub's GOP cache, and it stops after IdleTimeout without
// requests or when the camera's publisher session ends. A muxer is shared by
// every viewer of the camera, so every request is checked against the
// muxer's owner before a byte is written (invariant 3).
//
// The package has no users and no routing: the caller resolves the grant,
// stream and variant from its URL and passes the file name. It must not
// build a key from a request string (invariant 5): the device always comes
// from the grant.
package hls

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"vigil/internal/access"
	"vigil/internal/hub"
)

// readyTimeout bounds how long a request waits for a new muxer's first
// unit (a camera that is online but has sent no keyframe yet).
const readyTimeout = 10 * time.Second

// stallTimeout stops a muxer whose camera sent nothing for that long.
const stallTimeout = 10 * time.Second

// Manager runs the HLS muxers. Set the fields, then use it; the fields must
// not change afterwards. The zero values of the optional fields take the
// documented defaults.
type Manager struct {
	// Hub is where media comes from. Required.
	Hub *hub.Hub
	// IdleTimeout stops a muxer that had no request for that long.
	// It defaults to 30 seconds.
	IdleTimeout time.Duration
	// SegmentDuration is the minimum segment duration; segments are cut at
	// keyframes. It defaults to 1 second.
	SegmentDuration time.Duration
	// PartDuration is the minimum Low-Latency HLS part duration.
	// It defaults to 200 milliseconds.
	PartDuration time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Metrics defaults to a set registered nowhere.
	Metrics *Metrics

	once   sync.Once
	wg     sync.WaitGroup
	mu     sync.Mutex
	muxers map[muxerKey]*muxer // guarded by mu
	closed bool                // guarded by mu
}

func (m *Manager) init() {
	m.once.Do(func() {
		if m.IdleTimeout <= 0 {
			m.IdleTimeout = 30 * time.Second
		}
		if m.SegmentDuration <= 0 {
			m.SegmentDuration = time.Second
		}
		if m.PartDuration <= 0 {
			m.PartDuration = 200 * time.Millisecond
		}
		if m.Logger == nil {
			m.Logger = slog.Default()
		}
		if m.Metrics == nil {
			m.Metrics = NewMetrics(prometheus.NewRegistry())
		}
		m.muxers = make(map[muxerKey]*muxer)
	})
}

func (m *Manager) metrics() *Metrics { return m.Metrics }

// ServeFile serves one HLS file (playlist, init, segment, part) of the
// grant's device's stream and variant. file is the last element of the
// request path: "index.m3u8" (the media playlist a multivariant playlist
// points to) or a name taken from a playlist. The query is passed on to
// gohlslib (_HLS_msn, _HLS_part, _HLS_skip) and kept in the URIs it writes.
//
// A playlist request makes the muxer if there is none. A refused grant gets
// 403 and a request for a file that does not exist 404, both without a
// body; an offline camera gets 503 with a short reason.
func (m *Manager) ServeFile(w http.ResponseWriter, r *http.Request, g access.Grant, stream access.StreamID, v Variant, file string) {
	m.init()
	if v.valid() {
		reqs := m.Metrics.Requests.WithLabelValues(string(v))
		reqs.Inc()
		defer reqs.Dec()
	}
	if err := m.serveFile(w, r, g, stream, v, file); err != nil {
		m.fail(w, r, err)
	}
}

func (m *Manager) serveFile(w http.ResponseWriter, r *http.Request, g access.Grant, stream access.StreamID, v Variant, file string) error {
	if !v.valid() || !validFile(file) {
		return &HTTPError{Code: http.StatusNotFound}
	}
	key := muxerKey{device: g.Device(), stream: stream, variant: v}
	x, err := m.muxer(g, key, isPlaylist(file))
	if err != nil {
		return err
	}
	if err := x.wait(r.Context()); err != nil {
		return err
	}
	// Invariant 3: the grant against the owner of what the muxer holds,
	// right before gohlslib writes. The key was built from the grant, so
	// this fails only if a muxer ever reached the wrong map slot.
	u := x.last.Load()
	if u == nil {
		return &HTTPError{Code: http.StatusServiceUnavailable, Msg: "camera has sent no picture yet", Err: ErrNotReady}
	}
	if err := m.Hub.Egress(g, u); err != nil {
		if !errors.Is(err, access.ErrGrantExpired) && !errors.Is(err, access.ErrNoGrant) {
			m.evict(key, x, err)
		}
		return &HTTPError{Code: http.StatusForbidden, Err: err}
	}
	x.begin(g)
	defer x.end()

	name := file
	if file == "index.m3u8" {
		name = x.layout.index
	}
	if isPlaylist(name) {
		return m.mediaPlaylist(w, r, x, name)
	}
	cw := &responseWriter{w: w}
	x.hm.Handle(cw, rewrite(r, name))
	if err := cw.finish(x); err != nil {
		return err
	}
	m.Metrics.Bytes.WithLabelValues(string(v)).Add(float64(cw.n))
	return nil
}

// muxer returns the running muxer for key, making it if create is set.
// Making it is the request coalescing of invariant 5: one muxer per key.
func (m *Manager) muxer(g access.Grant, key muxerKey, create bool) (*muxer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, &HTTPError{Code: http.StatusServiceUnavailable, Msg: "shutting down", Err: ErrClosed}
	}
	if x := m.muxers[key]; x != nil && !x.stopped() {
		return x, nil
	}
	if !create {
		return nil, &HTTPError{Code: http.StatusNotFound}
	}
	// From the previous GOP: gohlslib publishes no playlist before one whole
	// segment, which the cached GOP alone closes only at the next keyframe.
	r, err := m.Hub.ReadBack(g, key.stream)
	if err != nil {
		return nil, readError(err)
	}
	x := newMuxer(m, key, g)
	ctx, cancel := context.WithCancelCause(context.Background())
	x.cancel = cancel
	m.muxers[key] = x
	m.wg.Go(func() {
		defer cancel(nil)
		x.run(ctx, r)
	})
	return x, nil
}

// remove forgets x if it is still the muxer of its key.
func (m *Manager) remove(x *muxer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.muxers[x.key] == x {
		delete(m.muxers, x.key)
	}
}

// evict fails closed after an isolation violation: the slot that held x
// under the wrong key is emptied and x is stopped, so no later request can
// reach it there.
func (m *Manager) evict(key muxerKey, x *muxer, err error) {
	m.mu.Lock()
	if m.muxers[key] == x {
		delete(m.muxers, key)
	}
	m.mu.Unlock()
	x.cancel(err)
}

// Close stops every muxer and waits for them; later requests get 503.
func (m *Manager) Close() {
	m.init()
	m.mu.Lock()
	m.closed = true
	for _, x := range m.muxers {
		x.cancel(ErrClosed)
	}
	m.mu.Unlock()
	m.wg.Wait()
}

// wait waits until the muxer has started.
func (x *muxer) wait(ctx context.Context) error {
	t := time.NewTimer(readyTimeout)
	defer t.Stop()
	select {
	case <-x.ready:
	case <-ctx.Done():
		return &HTTPError{Code: http.StatusServiceUnavailable, Msg: "request cancelled", Err: ctx.Err()}
	case <-t.C:
		return &HTTPError{Code: http.StatusServiceUnavailable, Msg: "camera has sent no picture yet", Err: ErrNotReady}
	}
	if x.err != nil {
		return startError(x.err)
	}
	return nil
}

// readError maps a hub.Read error to a response.
func readError(err error) error {
	switch {
	case errors.Is(err, hub.ErrOffline), errors.Is(err, hub.ErrReplaced), errors.Is(err, hub.ErrClosed):
		return &HTTPError{Code: http.StatusServiceUnavailable, Msg: "camera offline", Err: err}
	default: // no grant, expired grant
		return &HTTPError{Code: http.StatusForbidden, Err: err}
	}
}

// startError maps the reason a muxer did not start to a response.
func startError(err error) error {
	switch {
	case errors.Is(err, ErrUnsupported), errors.Is(err, ErrNoTracks):
		return &HTTPError{Code: http.StatusNotFound, Msg: "variant not available for this camera", Err: err}
	case errors.Is(err, ErrIdle), errors.Is(err, ErrClosed), errors.Is(err, ErrStalled):
		return &HTTPError{Code: http.StatusServiceUnavailable, Msg: "stream restarting, retry", Err: err}
	}
	return readError(err)
}

// fail writes err's response, which was not started. Refusals (403, 404)
// have no body at all.
func (m *Manager) fail(w http.ResponseWriter, r *http.Request, err error) {
	var he *HTTPError
	if !errors.As(err, &he) {
		he = &HTTPError{Code: http.StatusInternalServerError, Msg: "internal error", Err: err}
	}
	lvl := slog.LevelDebug
	if he.Code >= 500 && he.Code != http.StatusServiceUnavailable {
		lvl = slog.LevelWarn
	}
	m.Logger.Log(r.Context(), lvl, "hls request failed", "code", he.Code, "error", he)
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if he.Msg == "" {
		h.Set("Content-Length", "0")
		w.WriteHeader(he.Code)
		return
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(he.Code)
	_, _ = w.Write([]byte(he.Msg + "\n"))
}

// validFile accepts the names gohlslib makes and index.m3u8: letters,
// digits, '_', '-' and '.', not starting with a dot.
func validFile(f string) bool {
	if f == "" || len(f) > 96 || f[0] == '.' {
		return false
	}
	for _, c := range f {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-', c == '.':
		default:
			return false
		}
	}
	return true
}

func isPlaylist(f string) bool { return strings.HasSuffix(f, ".m3u8") }

// rewrite returns r with its path set to name, which is how gohlslib picks
// the file (it takes the path's last element).
func rewrite(r *http.Request, name string) *http.Request {
	r2 := new(http.Request)
	*r2 = *r
	u := *r.URL
	u.Path, u.RawPath = "/"+name, ""
	r2.URL = &u
	return r2
}

// responseWriter holds back gohlslib's status until the body starts, so that
// a file gohlslib does not have (it then writes nothing) or a muxer that
// stopped under the request (a bare 500) gets our own response instead.
type responseWriter struct {
	w       http.ResponseWriter
	code    int
	started bool
	n       int64
}

func (c *responseWriter) Header() http.Header { return c.w.Header() }

func (c *responseWriter) WriteHeader(code int) {
	if c.code == 0 {
		c.code = code
	}
}

func (c *responseWriter) Write(p []byte) (int, error) {
	if !c.started {
		c.started = true
		if c.code == 0 {
			c.code = http.StatusOK
		}
		c.w.WriteHeader(c.code)
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// finish completes a response that wrote no body.
func (c *responseWriter) finish(x *muxer) error {
	switch {
	case c.started:
		return nil
	case c.code == 0:
		return &HTTPError{Code: http.StatusNotFound}
	case c.code == http.StatusInternalServerError && x.stopped():
		return startError(x.stopErr)
	case c.code >= 400:
		h := c.w.Header()
		h.Del("Content-Type")
		return &HTTPError{Code: c.code}
	}
	c.w.WriteHeader(c.code)
	return nil
}
