// Package record owns recordings: the recorder, which reads camera streams
// from the hub and keeps them as sealed fMP4 segments (about a minute each,
// one fragment per GOP) in a blob store with an index row per segment, and
// playback, which lists and opens them for a grant.
//
// Segments are sealed (seal.Segment) under a key derived from the camera's
// key for its ownership epoch, with device, stream, segment id and start in
// the derivation: a row that names another camera's object, or an object of
// an earlier epoch (whose secret the store destroyed when the camera
// changed hands), does not open. A segment never spans two publisher
// sessions, so never two epochs, and playback serves only segments that
// started at or after the grant's epoch.
//
// It knows no HTTP routing, users or SQL: the Index it declares is
// implemented by store/sqlite and store/postgres.
package record

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"vigil/internal/access"
	"vigil/internal/blob"
	"vigil/internal/hub"
	"vigil/internal/limit"
	"vigil/internal/seal"
)

// Target is a camera stream to record.
type Target struct {
	Device access.DeviceID
	Stream access.StreamID
	// EventsOnly records the stream around its camera's events only (see
	// Recorder.Event): a pre-roll kept in memory, then until the event's
	// post-roll ends. Otherwise it is recorded all the time.
	EventsOnly bool
}

// stream names a recorded stream whatever its mode.
func (tg Target) stream() Target { return Target{Device: tg.Device, Stream: tg.Stream} }

// Config is what a Recorder is built from.
type Config struct {
	Hub    *hub.Hub
	Sealer *seal.Sealer
	Blobs  blob.Store
	Index  Index
	// Targets lists the streams to record now (enabled, claimed cameras'
	// main streams, say); it is asked every Poll.
	Targets func(ctx context.Context) ([]Target, error)
	// Grant mints the grant the recorder reads a device's stream with.
	Grant func(device access.DeviceID) access.Grant
	// SegmentDuration is the length a segment is cut at (at the first
	// keyframe past it). It defaults to one minute. A camera's first
	// segment is between half and one and a half of it, by a hash of the
	// stream, so that cameras do not all close segments at once.
	SegmentDuration time.Duration
	// QueueBytes bounds a stream's fragments waiting to be sealed and
	// stored; a fragment that does not fit is dropped (counted), so a slow
	// store never holds up the hub. It defaults to 8 MiB.
	QueueBytes int64
	// StoreTimeout is how long the blob store may take none of a
	// segment's bytes while some wait for it before the segment is given up
	// (counted, reason store_stalled). A store that is slow but takes bytes,
	// or slow to finish a put (an fsync, an upload's completion), is waited
	// for. It also bounds how long rows are retried once the recorder is
	// asked to stop. It defaults to 30 seconds.
	StoreTimeout time.Duration
	// Poll is how often Targets is asked and streams that came online are
	// joined. It defaults to one second.
	Poll time.Duration
	// PreRoll is how much of an EventsOnly stream is kept in memory to
	// start an event's recording with (from the keyframe at or before it).
	// It defaults to 5 seconds.
	PreRoll time.Duration
	// PreRollBytes bounds that memory per stream; the oldest GOPs go
	// first. It defaults to 4 MiB.
	PreRollBytes int64
	// PostRoll is how long an EventsOnly stream is recorded past an
	// event's end (or its mark, when later). It defaults to 10 seconds.
	PostRoll time.Duration
	// Registerer takes the recorder's metrics; nil registers nowhere.
	Registerer prometheus.Registerer
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// The recorder's pre- and post-roll unless its Config says otherwise.
const (
	defaultPreRoll  = 5 * time.Second
	defaultPostRoll = 10 * time.Second
)

// Recorder records the Targets that are online.
type Recorder struct {
	cfg     Config
	metrics *metrics
	seed    maphash.Seed
	log     *slog.Logger
	losses  *limit.Log[lossReason]

	mu      sync.Mutex
	running map[Target]*mode // guarded by mu; by Target.stream()
	wg      sync.WaitGroup
}

// New validates cfg and returns a Recorder; Run records.
func New(cfg Config) (*Recorder, error) {
	var errs []error
	if cfg.Hub == nil || cfg.Sealer == nil || cfg.Blobs == nil || cfg.Index == nil || cfg.Targets == nil || cfg.Grant == nil {
		errs = append(errs, errors.New("record: Config needs Hub, Sealer, Blobs, Index, Targets and Grant"))
	}
	if cfg.SegmentDuration < 0 || cfg.QueueBytes < 0 || cfg.Poll < 0 || cfg.PreRoll < 0 || cfg.PreRollBytes < 0 || cfg.PostRoll < 0 || cfg.StoreTimeout < 0 {
		errs = append(errs, errors.New("record: SegmentDuration, QueueBytes, Poll, PreRoll, PreRollBytes, PostRoll and StoreTimeout cannot be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.SegmentDuration == 0 {
		cfg.SegmentDuration = time.Minute
	}
	if cfg.QueueBytes == 0 {
		cfg.QueueBytes = 8 << 20
	}
	if cfg.Poll == 0 {
		cfg.Poll = time.Second
	}
	cfg.PreRoll = cmp.Or(cfg.PreRoll, defaultPreRoll)
	cfg.PreRollBytes = cmp.Or(cfg.PreRollBytes, 4<<20)
	cfg.PostRoll = cmp.Or(cfg.PostRoll, defaultPostRoll)
	cfg.StoreTimeout = cmp.Or(cfg.StoreTimeout, defaultStoreTimeout)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	reg := cfg.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	return &Recorder{cfg: cfg, metrics: newMetrics(reg), seed: maphash.MakeSeed(), log: cfg.Logger, losses: limit.NewLog[lossReason](lossLogEvery),
		running: make(map[Target]*mode)}, nil
}

// Run reconciles the index and the store after a crash (Reconcile), then
// joins every target that comes online until ctx ends, and waits for the
// streams being recorded to store their last segments.
func (r *Recorder) Run(ctx context.Context) error {
	if n, err := r.Reconcile(ctx); err != nil {
		r.log.Error("recorder: reconciling recordings with the index failed; recording anyway", "error", err)
	} else if n != (Reconciled{}) {
		r.log.Warn("recorder: reconciled recordings after a crash", "rows_dropped", n.RowsDropped, "indexed", n.Indexed,
			"salvaged", n.Salvaged, "deleted", n.Deleted)
	}
	t := time.NewTicker(r.cfg.Poll)
	defer t.Stop()
	defer r.wg.Wait()
	for {
		r.poll(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (r *Recorder) poll(ctx context.Context) {
	targets, err := r.cfg.Targets(ctx)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Warn("recorder: listing cameras to record failed; retrying", "error", err)
		}
		return
	}
	for _, tg := range targets {
		if !r.cfg.Hub.Publishing(tg.Device, tg.Stream) { // recorded on its home node only
			continue
		}
		r.mu.Lock()
		m, busy := r.running[tg.stream()]
		if !busy {
			m = &mode{}
			r.running[tg.stream()] = m
		}
		m.eventsOnly.Store(tg.EventsOnly)
		r.mu.Unlock()
		if busy {
			continue
		}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			defer func() {
				r.mu.Lock()
				delete(r.running, tg.stream())
				r.mu.Unlock()
			}()
			err := r.record(ctx, tg.stream(), m)
			r.log.Debug("recorder: stream ended", "camera", tg.Device, "stream", tg.Stream, "reason", err)
		}()
	}
}

// Streams is the number of streams being recorded now.
func (r *Recorder) Streams() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.running)
}

// stagger is how far into its first segment a stream cuts: between half
// and one and a half SegmentDuration, fixed per stream.
func (r *Recorder) stagger(tg Target) time.Duration {
	h := maphash.Comparable(r.seed, tg.stream())
	d := r.cfg.SegmentDuration
	return d/2 + time.Duration(h%uint64(d))
}

type metrics struct {
	segments   prometheus.Counter
	bytes      prometheus.Counter
	dropped    *prometheus.CounterVec // by lossReason
	failed     *prometheus.CounterVec // by lossReason
	unindexed  prometheus.Counter
	retries    prometheus.Counter
	recordings prometheus.Gauge
	reconciled prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		segments: prometheus.NewCounter(prometheus.CounterOpts{Name: "vigil_record_segments_total",
			Help: "Recorded segments stored and indexed."}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "vigil_record_bytes_total",
			Help: "Bytes of recorded fMP4 stored (before sealing)."}),
		unindexed: prometheus.NewCounter(prometheus.CounterOpts{Name: "vigil_record_unindexed_segments_total",
			Help: "Segments stored whose row the index did not take in time: kept, and indexed by the next start's reconciliation."}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{Name: "vigil_record_index_retries_total",
			Help: "Tries again to add a stored segment's row after the index refused it (a busy store)."}),
		recordings: prometheus.NewGauge(prometheus.GaugeOpts{Name: "vigil_recording_streams",
			Help: "Camera streams being recorded."}),
		reconciled: prometheus.NewCounter(prometheus.CounterOpts{Name: "vigil_record_reconciled_total",
			Help: "Segments and rows repaired at start after a crash: rows without objects dropped, objects indexed, partial objects salvaged or deleted."}),
	}
	m.dropped, m.failed = newLossCounters(reg)
	reg.MustRegister(m.segments, m.bytes, m.unindexed, m.retries, m.recordings, m.reconciled)
	return m
}

// objectKey is where a segment is kept, built from typed values only.
func objectKey(tg Target, start time.Time, id uint64) string {
	if k, ok := pathKey(tg, start); ok {
		return k
	}
	return fmt.Sprintf("rec/%s/%s/%d-%016x.seg", tg.Device, tg.Stream, start.UnixNano(), id)
}
