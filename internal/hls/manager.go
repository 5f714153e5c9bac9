// Package hls serves a camera's live streams as HLS and Low-Latency HLS on
// gohlslib, plus our own multivariant playlist listing a camera's streams.
//
// One gohlslib Muxer runs per (device, stream, variant). It is made on the
// first request, fed by a hub reader opened with that request's grant, so it
// starts from the hub's GOP cache, and it stops after IdleTimeout without
// requests or when the camera's publisher session ends. A muxer is shared by
// the camera's viewers, so every request is checked against the muxer's
// owner and the capture time of its oldest unit before a byte is written
// (invariant 3). A viewer whose grant's epoch (a share or claim) is younger
// than a muxer's oldest unit gets a muxer of its own, and Handover drops a
// camera's muxers when it changes hands (invariant 8).
//
// The package has no users and no routing: the caller resolves the grant,
// stream and variant from its URL and passes the file name. It must not
// build a key from a request string (invariant 5): the device always comes
// from the grant.
package hls

import (
	"context"
	"errors"
	"fmt"
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

// Config is what a Manager is built from. Zero optional fields take the
// documented defaults.
type Config struct {
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
	// SubPartDuration is the minimum part duration of the sub stream, the
	// adaptive set's rung for poor links. It defaults to 1 second: a player
	// fetches parts one at a time, each costing a round trip, and behind
	// 800 kbit/s + 150 ms hls.js fell behind real time on 200 ms parts of a
	// 0.6 Mbit/s sub stream (~270 ms a part) and stalled every second, while
	// 1 s parts played without a stall from 2.3–4.7 s. Shaka Player, which
	// stepped up to main with them on vigilbench's old link, did so on its
	// dropped-frames rule (15 % of the frames in 2 s on a busy machine bans
	// the stream it plays, and main is the only other), not on its estimate
	// (~450 kbit/s then); on a link whose rate the connections share it
	// stays on sub.
	//
	// With a camera's 2 s GOPs a sub segment holds two such parts, and
	// gohlslib names part files by one count across the stream, so the
	// first parts of successive segments are _part10, _part12, _part14:
	// a step of 2 that is only in names. EXT-X-MEDIA-SEQUENCE and the
	// segments' numbers count one a segment (a player computes _HLS_msn
	// from them), and _HLS_part counts parts within a segment
	// (TestSubSequenceCountsSegments).
	SubPartDuration time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Metrics defaults to a set registered nowhere.
	Metrics *Metrics
}

// Manager runs the HLS muxers.
type Manager struct {
	cfg Config

	wg     sync.WaitGroup
	mu     sync.Mutex
	muxers map[muxerKey]*muxer // guarded by mu
	closed bool                // guarded by mu
}

// New returns a manager of cfg, its defaults applied. Run (or Close) stops
// its muxers.
func New(cfg Config) (*Manager, error) {
	if cfg.Hub == nil {
		return nil, errors.New("hls: a manager needs a hub")
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 30 * time.Second
	}
	if cfg.SegmentDuration <= 0 {
		cfg.SegmentDuration = time.Second
	}
	if cfg.PartDuration <= 0 {
		cfg.PartDuration = 200 * time.Millisecond
	}
	if cfg.SubPartDuration <= 0 {
		cfg.SubPartDuration = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(prometheus.NewRegistry())
	}
	return &Manager{cfg: cfg, muxers: make(map[muxerKey]*muxer)}, nil
}

// Run serves until ctx ends, then stops every muxer (Close) and returns.
func (m *Manager) Run(ctx context.Context) error {
	<-ctx.Done()
	m.Close()
	return nil
}

// Metrics is the manager's set of metrics.
func (m *Manager) Metrics() *Metrics { return m.cfg.Metrics }

// ServeFile serves one HLS file (playlist, init, segment, part) of the
// grant's device's stream and variant. file is the last element of the
// request path: "index.m3u8" (the media playlist a multivariant playlist
// points to) or a name taken from a playlist. The query is passed on to
// gohlslib (_HLS_msn, _HLS_part, _HLS_skip) and kept in the URIs it writes.
//
// A playlist request makes the muxer if there is none. On an error nothing
// has been written to w, headers included: ErrRefused for a refused grant,
// ErrNoFile for a file that does not exist (answer both without a body),
// ErrOffline, ErrNotReady, ErrIdle, ErrStalled, ErrClosed, ErrUnsupported,
// ErrNoTracks, ErrBadRequest, r's context's.
func (m *Manager) ServeFile(w http.ResponseWriter, r *http.Request, g access.Grant, stream access.StreamID, v Variant, file string) error {
	if v.valid() {
		reqs := m.cfg.Metrics.Requests.WithLabelValues(string(v))
		reqs.Inc()
		defer reqs.Dec()
	}
	return m.serveFile(w, r, g, stream, v, file)
}

func (m *Manager) serveFile(w http.ResponseWriter, r *http.Request, g access.Grant, stream access.StreamID, v Variant, file string) error {
	if !v.valid() || !validFile(file) {
		return ErrNoFile
	}
	key := muxerKey{device: g.Device(), stream: stream, variant: v.muxed()}
	x, err := m.muxer(g, key, isPlaylist(file))
	if err != nil {
		return err
	}
	if err := x.wait(r.Context()); err != nil {
		return err
	}
	// Invariant 3: the grant against the owner of what the muxer holds,
	// right before gohlslib writes: its device, and the capture time of the
	// oldest unit it was fed against the grant's epoch. The key was built
	// from the grant and the muxer chosen by its epoch, so this fails only
	// if a muxer ever reached the wrong map slot.
	u := x.first
	if u == nil || x.last.Load() == nil {
		return ErrNotReady
	}
	if err := m.cfg.Hub.Egress(g, u); err != nil {
		if !errors.Is(err, access.ErrGrantExpired) && !errors.Is(err, access.ErrNoGrant) {
			m.evict(x, err)
		}
		return fmt.Errorf("%w: %w", ErrRefused, err)
	}
	x.begin(g)
	defer x.end()

	name := file
	if file == "index.m3u8" {
		name = x.layout.index
	}
	if isPlaylist(name) {
		return m.mediaPlaylist(w, r, x, v, name)
	}
	cw := &responseWriter{w: w}
	x.hm.Handle(cw, rewrite(r, name))
	if err := cw.finish(x); err != nil {
		return err
	}
	m.cfg.Metrics.Bytes.WithLabelValues(string(v)).Add(float64(cw.n))
	return nil
}

// muxer returns the running muxer for key, making it if create is set.
// Making it is the request coalescing of invariant 5: one muxer per key.
//
// Holders share one muxer per key unless it holds pictures captured before
// a holder's epoch (a share or claim younger than the muxer, invariant 8):
// that holder gets a muxer of its own, keyed by its epoch, which starts at
// the first keyframe captured after the epoch.
func (m *Manager) muxer(g access.Grant, key muxerKey, create bool) (*muxer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	if x := m.muxers[key]; x != nil && !x.stopped() {
		if x.allows(g) {
			return x, nil
		}
		key.since = g.Epoch().UnixNano()
		if y := m.muxers[key]; y != nil && !y.stopped() && y.allows(g) {
			return y, nil
		}
	}
	if !create {
		return nil, ErrNoFile
	}
	// From the previous GOP: gohlslib publishes no playlist before one whole
	// segment, which the cached GOP alone closes only at the next keyframe.
	r, err := m.cfg.Hub.ReadBack(g, key.stream)
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

// evict fails closed after an isolation violation: every slot that held x
// (under the wrong key) is emptied and x is stopped, so no later request
// can reach it there.
func (m *Manager) evict(x *muxer, err error) {
	m.mu.Lock()
	for k, y := range m.muxers {
		if y == x {
			delete(m.muxers, k)
		}
	}
	m.mu.Unlock()
	x.cancel(err)
}

// Handover stops every muxer of a camera that changed hands and forgets
// them at once, so that no request reaches a segment of the old epoch
// (invariant 8); the hub ends their readers too.
func (m *Manager) Handover(device access.DeviceID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, x := range m.muxers {
		if k.device == device {
			delete(m.muxers, k)
			x.cancel(hub.ErrHandover)
		}
	}
}

// Close stops every muxer and waits for them; later requests get ErrClosed.
func (m *Manager) Close() {
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
		return fmt.Errorf("hls: waiting for the muxer: %w", ctx.Err())
	case <-t.C:
		return ErrNotReady
	}
	if x.err != nil {
		return startError(x.err)
	}
	return nil
}

// readError classes a hub.Read error: the camera is offline, or the grant
// does not open it.
func readError(err error) error {
	switch {
	case errors.Is(err, hub.ErrOffline), errors.Is(err, hub.ErrReplaced), errors.Is(err, hub.ErrClosed):
		return fmt.Errorf("%w: %w", ErrOffline, err)
	default: // no grant, expired grant
		return fmt.Errorf("%w: %w", ErrRefused, err)
	}
}

// startError classes the reason a muxer did not start or stopped.
func startError(err error) error {
	switch {
	case errors.Is(err, ErrUnsupported), errors.Is(err, ErrNoTracks),
		errors.Is(err, ErrIdle), errors.Is(err, ErrClosed), errors.Is(err, ErrStalled):
		return err
	}
	return readError(err)
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

// responseWriter holds back gohlslib's headers and status until the body
// starts, so that a file gohlslib does not have (it then writes nothing) or
// a muxer that stopped under the request (a bare 500) leaves w untouched
// and becomes an error.
type responseWriter struct {
	w       http.ResponseWriter
	h       http.Header
	code    int
	started bool
	n       int64
}

func (c *responseWriter) Header() http.Header {
	if c.h == nil {
		c.h = http.Header{}
	}
	return c.h
}

func (c *responseWriter) WriteHeader(code int) {
	if c.code == 0 {
		c.code = code
	}
}

func (c *responseWriter) Write(p []byte) (int, error) {
	if !c.started {
		if c.code == 0 {
			c.code = http.StatusOK
		}
		c.start()
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// start sends the held-back headers and status.
func (c *responseWriter) start() {
	c.started = true
	for k, v := range c.h {
		c.w.Header()[k] = v
	}
	c.w.WriteHeader(c.code)
}

// finish completes a response that wrote no body, or returns why there is
// none.
func (c *responseWriter) finish(x *muxer) error {
	switch {
	case c.started:
		return nil
	case c.code == 0:
		return ErrNoFile
	case c.code == http.StatusInternalServerError && x.stopped():
		return startError(x.stopErr)
	case c.code == http.StatusBadRequest:
		return ErrBadRequest
	case c.code >= 400:
		return fmt.Errorf("hls: gohlslib answered %d", c.code)
	}
	c.start()
	return nil
}
