// Package hub owns the live camera streams: one Stream per camera stream,
// its keyframe (GOP) cache and the bounded queues of its readers.
//
// Media enters only through a Publisher, which stamps every unit with the
// camera session that produced it and the time it was received (invariant
// 1), and leaves only through a Reader, which needs a Grant (invariant 2) and
// whose Egress check outputs run right before writing bytes (invariant 3:
// the unit's device against the grant's, its capture time against the
// grant's epoch). A reader never starts from cached units captured before
// its grant's epoch, and Handover drops everything of a camera that changes
// hands (invariant 8). In a cluster (Config.Home, Config.Remote) a stream
// published here is claimed and carried to the other nodes, and a stream
// published elsewhere is fed into this hub (Feed) with the owner each unit
// came with. The hub knows access but not HTTP, users or storage.
package hub

import (
	"bytes"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"vigil/internal/access"
	"vigil/internal/media"
)

// Config tunes a Hub. Zero fields take the documented defaults.
type Config struct {
	// ReaderQueueUnits bounds a reader's queue in units. It defaults to 512.
	ReaderQueueUnits int
	// ReaderQueueBytes bounds a reader's queue in payload bytes. It defaults to 16 MiB.
	ReaderQueueBytes int64
	// GOPMaxBytes bounds a stream's GOP cache; a GOP that grows past it is
	// dropped and readers that join wait for the next keyframe. It defaults to 32 MiB.
	GOPMaxBytes int64
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Metrics defaults to a set registered nowhere.
	Metrics *Metrics
	// Now defaults to time.Now; tests replace it.
	Now func() time.Time
	// Home, in a cluster, claims every stream published here and carries
	// its units to the other nodes. It defaults to none (one node).
	Home Home
	// Remote, in a cluster, feeds readers here the streams published on
	// other nodes. It defaults to none (one node).
	Remote Remote
	// FirstSession is the number after which publisher sessions are
	// numbered. In a cluster each node takes a random one, so that
	// sessions of one camera on two nodes never share a number. It
	// defaults to 0.
	FirstSession uint64
}

// Hub is the set of live streams.
type Hub struct {
	cfg      Config
	sessions atomic.Uint64

	mu      sync.Mutex
	streams map[streamKey]*Stream // guarded by mu; only streams with a live publisher
	// ended is when ingest received the last unit of each stream whose
	// publisher has gone (unix nanoseconds); guarded by mu. It holds one
	// entry per camera stream that ever published.
	ended map[streamKey]int64
}

// streamKey is built from typed IDs only (invariant 5).
type streamKey struct {
	device access.DeviceID
	stream access.StreamID
}

// New returns an empty hub.
func New(cfg Config) *Hub {
	if cfg.ReaderQueueUnits <= 0 {
		cfg.ReaderQueueUnits = 512
	}
	if cfg.ReaderQueueBytes <= 0 {
		cfg.ReaderQueueBytes = 16 << 20
	}
	if cfg.GOPMaxBytes <= 0 {
		cfg.GOPMaxBytes = 32 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(prometheus.NewRegistry())
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &Hub{cfg: cfg, streams: make(map[streamKey]*Stream), ended: make(map[streamKey]int64)}
	h.sessions.Store(cfg.FirstSession)
	return h
}

// Publish starts a publisher session for a camera stream. The caller must
// have authenticated the camera as device. A previous publisher of the same
// stream is replaced atomically: its readers are ended and its later writes
// fail with ErrReplaced, so the two sessions' data never mix. In a cluster
// the session claims the stream (failing if it cannot), which ends the
// session holding it on another node; when a later session anywhere takes
// it over, this one ends with ErrFenced.
func (h *Hub) Publish(device access.DeviceID, stream access.StreamID, tracks []*media.Track) (*Publisher, error) {
	if len(tracks) == 0 {
		return nil, ErrNoTracks
	}
	owner := media.Owner{Device: device, Stream: stream, Session: h.sessions.Add(1)}
	s := newStream(h, owner, tracks)

	h.mu.Lock()
	k := h.publishKey(streamKey{device, stream})
	old := h.streams[k]
	h.streams[k] = s
	if old != nil {
		h.noteEnded(k, old)
	}
	h.mu.Unlock()

	if old != nil {
		old.close(ErrReplaced)
		h.cfg.Logger.Info("publisher replaced", "camera", device, "stream", stream,
			"old_session", old.owner.Session, "session", owner.Session)
	}
	if err := h.claimHome(s); err != nil {
		h.remove(s)
		s.close(ErrOffline)
		return nil, err
	}
	return &Publisher{s: s}, nil
}

// Read attaches a reader to the grant's device's stream. The reader first
// receives the cached GOP (from its keyframe, with the parameter sets), then
// live units. A cached GOP whose keyframe was captured before the grant's
// epoch (a share or claim younger than the GOP) is not replayed: the reader
// starts at the next keyframe, the first captured after its epoch.
func (h *Hub) Read(g access.Grant, stream access.StreamID) (*Reader, error) {
	return h.read(g, stream, false)
}

func (h *Hub) read(g access.Grant, stream access.StreamID, back bool) (*Reader, error) {
	s, release, err := h.granted(g, stream)
	if err != nil {
		return nil, err
	}
	r, err := s.addReader(g, back)
	if err != nil {
		release()
		return nil, err
	}
	r.release = release
	return r, nil
}

// ReadBack is Read starting one GOP earlier, at the keyframe before the
// cached one: a segmenting muxer (LL-HLS) then has a complete segment at
// once instead of waiting for the camera's next keyframe.
func (h *Hub) ReadBack(g access.Grant, stream access.StreamID) (*Reader, error) {
	return h.read(g, stream, true)
}

// granted returns the live stream the grant allows reading, published
// here or fed from another node, with the release of the remote feed's
// reader it counts (a no-op for a stream published here). The caller
// calls release once done with the stream.
func (h *Hub) granted(g access.Grant, stream access.StreamID) (*Stream, func(), error) {
	if err := g.Live(h.cfg.Now()); err != nil {
		return nil, nil, err
	}
	h.mu.Lock()
	s := h.streams[streamKey{g.Device(), stream}]
	h.mu.Unlock()
	release := func() {}
	if s == nil || s.fed {
		// A fed stream counts its readers at its feed, so that the feed
		// outlives none of them: every reader acquires it.
		s, release = h.remote(g.Device(), stream)
	}
	if s == nil {
		return nil, nil, ErrOffline
	}
	return s, release, nil
}

// Metrics are the hub's Prometheus series.
func (h *Hub) Metrics() *Metrics { return h.cfg.Metrics }

// Online reports whether a camera stream has a live publisher, here or
// (in a cluster) on another node. It reveals no media.
func (h *Hub) Online(device access.DeviceID, stream access.StreamID) bool {
	h.mu.Lock()
	s := h.streams[streamKey{device, stream}]
	h.mu.Unlock()
	return s != nil || h.cfg.Remote != nil && h.cfg.Remote.Online(device, stream)
}

// Publishing reports whether a camera stream has a live publisher on this
// node (not one fed from another). It reveals no media.
func (h *Hub) Publishing(device access.DeviceID, stream access.StreamID) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.streams[streamKey{device, stream}]
	return s != nil && !s.fed
}

// LastFrame returns when ingest last received a unit of a camera stream,
// live or gone since this process started; false if it never published.
// It reveals no media.
func (h *Hub) LastFrame(device access.DeviceID, stream access.StreamID) (time.Time, bool) {
	k := streamKey{device, stream}
	h.mu.Lock()
	defer h.mu.Unlock()
	last := h.ended[k]
	if s := h.streams[k]; s != nil {
		last = max(last, s.lastUnit.Load())
	}
	return time.Unix(0, last), last != 0
}

// noteEnded keeps the last unit's time of s, whose publisher is gone.
// Caller holds h.mu.
func (h *Hub) noteEnded(k streamKey, s *Stream) {
	if t := s.lastUnit.Load(); t > h.ended[k] {
		h.ended[k] = t
	}
}

// Tracks returns the tracks of a live stream, for describing it to a client
// before it reads. It needs a grant for the device.
func (h *Hub) Tracks(g access.Grant, stream access.StreamID) ([]*media.Track, error) {
	s, release, err := h.granted(g, stream)
	if err != nil {
		return nil, err
	}
	release()
	return s.tracks, nil
}

// Keyframe is the latest keyframe of a stream, for stills.
type Keyframe struct {
	Unit   *media.Unit // with its parameter sets
	Tracks []*media.Track
	// Captured is when ingest received the keyframe (Unit.Captured).
	Captured time.Time
}

// Keyframe returns the latest keyframe of the grant's device's stream, after
// the egress check; ErrOffline when the camera is offline or no keyframe is
// cached yet, or none captured since the grant's epoch.
func (h *Hub) Keyframe(g access.Grant, stream access.StreamID) (Keyframe, error) {
	s, release, err := h.granted(g, stream)
	if err != nil {
		return Keyframe{}, err
	}
	release()
	u := s.keyframe()
	if u == nil || !handoverKeepsStreams() && u.Captured().Before(g.Epoch()) {
		return Keyframe{}, ErrOffline
	}
	if err := h.Egress(g, u); err != nil {
		return Keyframe{}, err
	}
	return Keyframe{Unit: u, Tracks: s.tracks, Captured: u.Captured()}, nil
}

// Egress is the check of invariant 3 for outputs that do not hold a Reader
// (stills, shared muxers): it compares the object's device with the grant's
// and its capture time with the grant's epoch, and counts and logs a
// mismatch of either (access.MismatchError, access.ErrBeforeEpoch) as an
// isolation violation. The caller writes nothing on an error.
func (h *Hub) Egress(g access.Grant, u *media.Unit) error {
	err := h.check(g, u)
	h.count(err, g, u.Owner())
	return err
}

// check is Egress's comparison without its consequences.
func (h *Hub) check(g access.Grant, u *media.Unit) error {
	return g.Check(u.Owner().Device, u.Captured(), h.cfg.Now())
}

// count counts and logs err as an isolation violation unless it is none,
// or only says the grant ended (expired, revoked).
func (h *Hub) count(err error, g access.Grant, o media.Owner) {
	if err != nil && !errors.Is(err, access.ErrGrantExpired) && !errors.Is(err, access.ErrGrantRevoked) {
		h.violation(err, g, o)
	}
}

// Handover ends every publisher session of device and drops its GOP caches
// at once: the camera changed hands (claim, release, reset), and nothing it
// sent before may reach the next holder (invariant 8). Its readers end with
// ErrHandover and its publishers' writes fail with it, so the camera
// reconnects into a new session.
func (h *Hub) Handover(device access.DeviceID) {
	h.HandoverStale(device, nil)
}

// HandoverStale is Handover for the camera's sessions of any ownership
// epoch but current (all of them when current is nil): another node
// changed the camera's hands, and sessions of the current epoch — by
// identity (HomeSession.Epoch, Feed's epoch), never by when they started:
// nodes' clocks differ — are already the new holder's. A session whose
// epoch is not known yet (its claim under way) ends too.
func (h *Hub) HandoverStale(device access.DeviceID, current []byte) {
	if handoverKeepsStreams() {
		return
	}
	var ended []*Stream
	h.mu.Lock()
	for k, s := range h.streams {
		if (k.device == device || s.owner.Device == device) && (current == nil || !bytes.Equal(s.epoch, current)) {
			delete(h.streams, k)
			h.removed(k)
			h.noteEnded(k, s)
			ended = append(ended, s)
		}
	}
	h.mu.Unlock()
	for _, s := range ended {
		s.close(ErrHandover)
	}
	if len(ended) > 0 {
		h.cfg.Logger.Info("camera changed hands: publisher sessions ended, caches dropped",
			"camera", device, "sessions", len(ended))
	}
}

func (h *Hub) remove(s *Stream) {
	k := streamKey{s.owner.Device, s.owner.Stream}
	h.mu.Lock()
	if h.streams[k] == s {
		delete(h.streams, k)
		h.removed(k)
		h.noteEnded(k, s)
	}
	h.mu.Unlock()
}

// violation records an isolation violation: counted, logged, never silent.
func (h *Hub) violation(err error, g access.Grant, o media.Owner) {
	h.cfg.Metrics.Violations.Inc()
	h.cfg.Logger.Error("isolation violation at egress: session ended, nothing written",
		"error", err, "grant_user", g.User(), "grant_camera", g.Device(), "grant_epoch", g.Epoch(),
		"object_camera", o.Device, "object_stream", o.Stream, "object_session", o.Session)
}
