package stills

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"vigil/internal/access"
	"vigil/internal/hub"
	"vigil/internal/seal"
)

// Config configures a Service. Zero optional fields take the documented defaults.
type Config struct {
	// Hub is where keyframe stills come from. Required.
	Hub *hub.Hub
	// Sealer seals uploaded stills at rest. Required.
	Sealer *seal.Sealer
	// Epochs gives the secret of a device's current ownership epoch, which
	// uploads are sealed under: a still sealed before the camera changed
	// hands no longer opens after. Required.
	Epochs Epochs
	// Dir holds uploaded stills, sealed, one file per device and stream,
	// each replaced atomically. Required; created with mode 0700.
	Dir string
	// FFmpeg is the ffmpeg program that decodes keyframes. It defaults to
	// "ffmpeg", looked up in PATH.
	FFmpeg string
	// Workers bounds the decodes (ffmpeg runs and upload rescales) that run
	// at once; a request waits for a free worker, taking turns with other
	// users' requests (round-robin per user). It defaults to 2.
	Workers int
	// QueuePerUser bounds one user's decodes waiting for a worker; one more
	// is refused with ErrBusy. It defaults to 4.
	QueuePerUser int
	// DecodeTimeout bounds one decode, waiting for a worker included; a
	// decode that outlives it fails with ErrDecode. It defaults to 5
	// seconds.
	DecodeTimeout time.Duration
	// MaxUpload bounds an uploaded still in bytes. It defaults to 2 MiB.
	MaxUpload int64
	// CacheBytes bounds the in-memory cache of stills (uploads as opened,
	// keyframe decodes and rescales); the least recently used go first. It
	// defaults to 64 MiB.
	CacheBytes int64
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Replicate, when set, is given the file of every upload as it is
	// stored (sealed under the device's key in its current epoch), for the
	// other nodes of a cluster (Replica). It must not block for long. It
	// defaults to nil: one node.
	Replicate func(device access.DeviceID, stream access.StreamID, file []byte)
	// ReplicaGrant mints the grant under which Replica opens a file from
	// another node before keeping it: the device is the one the seal
	// names, never only the one its subject names. Replica refuses every
	// file without it.
	ReplicaGrant func(ctx context.Context, device access.DeviceID) (access.Grant, error)
	// Violations counts stills withheld at egress because the grant was
	// for another device. It defaults to the hub's
	// vigil_isolation_violations_total.
	Violations prometheus.Counter
}

// Epochs is the part of the store stills read: the secret of a device's
// current ownership epoch (see seal.Sealer), as a copy the caller owns:
// stills clears it after use and never keeps it.
type Epochs interface {
	EpochSecret(ctx context.Context, device access.DeviceID) ([]byte, error)
}

// Service serves a camera's stills to the holders of grants for it.
type Service struct {
	cfg Config
	log *slog.Logger

	workers *queue // the decode workers, taken in turns per user
	cache   *cache
	flights flight[stillKey, *frame]

	// uploadLocks serialise the uploads of one device+stream (striped by
	// a hash of the typed key, so the set stays bounded).
	uploadLocks [32]sync.Mutex
	seed        maphash.Seed

	ffmpegRuns atomic.Uint64 // ffmpeg processes started
	scaleRuns  atomic.Uint64 // uploads rescaled
	unopened   rateLimit     // warnings of uploads that do not open

	mu      sync.Mutex
	uploads map[streamKey]uploadMeta // guarded by mu; the latest upload known (seq 0: none on disk)
	// decoded is the newest keyframe still decoded per stream and width,
	// served while the next keyframe decodes; guarded by mu.
	decoded map[decodedKey]*frame
}

// decodedKey names a stream's newest decoded still at one width (typed, as
// every cache key: invariant 5).
type decodedKey struct {
	device access.DeviceID
	stream access.StreamID
	width  int
}

// streamKey names one camera stream, from typed IDs only (invariant 5).
type streamKey struct {
	device access.DeviceID
	stream access.StreamID
}

// New validates cfg and returns a ready Service.
func New(cfg Config) (*Service, error) {
	var errs []error
	if cfg.Hub == nil {
		errs = append(errs, errors.New("stills: Config.Hub is required"))
	}
	if cfg.Sealer == nil {
		errs = append(errs, errors.New("stills: Config.Sealer is required (uploads are sealed at rest)"))
	}
	if cfg.Epochs == nil {
		errs = append(errs, errors.New("stills: Config.Epochs is required (uploads are sealed per ownership epoch)"))
	}
	if cfg.Dir == "" {
		errs = append(errs, errors.New("stills: Config.Dir is required (where uploads are kept)"))
	}
	if cfg.Workers < 0 || cfg.QueuePerUser < 0 || cfg.MaxUpload < 0 || cfg.CacheBytes < 0 || cfg.DecodeTimeout < 0 {
		errs = append(errs, errors.New("stills: Workers, QueuePerUser, MaxUpload, CacheBytes and DecodeTimeout must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.FFmpeg == "" {
		cfg.FFmpeg = "ffmpeg"
	}
	if cfg.Workers == 0 {
		cfg.Workers = 2
	}
	if cfg.QueuePerUser == 0 {
		cfg.QueuePerUser = 4
	}
	if cfg.DecodeTimeout == 0 {
		cfg.DecodeTimeout = 5 * time.Second
	}
	if cfg.MaxUpload == 0 {
		cfg.MaxUpload = 2 << 20
	}
	if cfg.CacheBytes == 0 {
		cfg.CacheBytes = 64 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Violations == nil {
		cfg.Violations = cfg.Hub.Metrics().Violations
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("stills: %w", err)
	}
	log := cfg.Logger.With("component", "stills")
	if _, err := exec.LookPath(cfg.FFmpeg); err != nil {
		log.Warn("ffmpeg not found: keyframe stills unavailable, uploads still served", "error", err)
	}
	return &Service{
		cfg:     cfg,
		log:     log,
		workers: newQueue(cfg.Workers, cfg.QueuePerUser),
		cache:   newCache(cfg.CacheBytes),
		seed:    maphash.MakeSeed(),
		uploads: make(map[streamKey]uploadMeta),
		decoded: make(map[decodedKey]*frame),
	}, nil
}

// Request says which still a viewer wants.
type Request struct {
	// Stream is the camera stream; empty means the main stream.
	Stream access.StreamID
	// MaxAge refuses a still captured longer ago; 0 accepts any age.
	MaxAge time.Duration
	// Width scales the still to this many pixels wide, keeping its aspect
	// and never enlarging it; 0 keeps the original size. Else 16..3840,
	// snapped up to the next of Widths: each width of a keyframe costs a
	// decode, so a client may not ask for thousands of them.
	Width int
}

// Width bounds.
const (
	MinWidth = 16
	MaxWidth = 3840
)

// Widths are the widths stills are scaled to; a width asked for is
// snapped up to the next of them.
var Widths = [...]int{160, 320, 640, 1280, 1920, MaxWidth}

// snapWidth returns the first of Widths at least w wide (w in range).
func snapWidth(w int) int {
	for _, s := range Widths {
		if w <= s {
			return s
		}
	}
	return MaxWidth
}

func (r Request) normalized() (Request, error) {
	st, err := access.ParseStreamID(string(r.Stream))
	if err != nil {
		return r, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	r.Stream = st
	if r.MaxAge < 0 {
		return r, fmt.Errorf("%w: negative maximum age", ErrBadRequest)
	}
	if r.Width != 0 && (r.Width < MinWidth || r.Width > MaxWidth) {
		return r, fmt.Errorf("%w: width %d outside %d..%d", ErrBadRequest, r.Width, MinWidth, MaxWidth)
	}
	if r.Width != 0 {
		r.Width = snapWidth(r.Width)
	}
	return r, nil
}

// Still is one JPEG picture of a camera.
type Still struct {
	// JPEG is the picture. It is shared with the cache and other viewers:
	// it must not be modified.
	JPEG []byte
	// Device is the camera that produced it, checked against the grant.
	Device access.DeviceID
	// Captured is when the camera took it (for an upload: when it arrived).
	Captured time.Time
	// Source is "upload" or "keyframe".
	Source string
	// Fallback is true when the stream has no live keyframe (the camera is
	// offline, or its decode failed) and this is the last uploaded still.
	Fallback bool
}

// Sources of stills.
const (
	SourceUpload   = "upload"
	SourceKeyframe = "keyframe"
)

// Get returns the freshest still of the grant's device allowed by req: the
// decoded latest keyframe of the live stream, or the last uploaded still if
// that is newer or the stream has no keyframe. A keyframe is decoded once
// per width, in the bounded worker pool, with concurrent requests for it
// coalesced. The still's device is checked against the grant right before
// it is returned; on a mismatch Get returns an error and no still, and
// counts the violation.
func (s *Service) Get(ctx context.Context, g access.Grant, req Request) (Still, error) {
	req, err := req.normalized()
	if err != nil {
		return Still{}, err
	}
	if err := g.Live(time.Now()); err != nil {
		return Still{}, fmt.Errorf("stills: %w", err)
	}
	f, fallback, err := s.freshest(ctx, g, req)
	if err != nil {
		return Still{}, err
	}
	if err := s.egress(g, f); err != nil {
		return Still{}, err
	}
	return Still{JPEG: f.jpeg, Device: f.device, Captured: f.captured, Source: f.source, Fallback: fallback}, nil
}

// keyframeWait bounds how long a still waits for the first keyframe of a
// camera that is online but has not sent one yet (it just connected).
const keyframeWait = 2 * time.Second

// firstKeyframe is keyframe, waiting up to keyframeWait for a camera that
// is online without a keyframe yet, rather than calling it offline.
func (s *Service) firstKeyframe(ctx context.Context, g access.Grant, stream access.StreamID) (*keyframe, error) {
	deadline := time.Now().Add(keyframeWait)
	for {
		kf, err := s.keyframe(g, stream)
		if kf != nil || err != nil || !s.cfg.Hub.Online(g.Device(), stream) || time.Now().After(deadline) {
			return kf, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// freshest picks between the live keyframe and the last upload by capture
// time before decoding anything, so that a stale source costs nothing.
func (s *Service) freshest(ctx context.Context, g access.Grant, req Request) (*frame, bool, error) {
	kf, err := s.firstKeyframe(ctx, g, req.Stream)
	if err != nil {
		return nil, false, err
	}
	up := s.latestUpload(ctx, g, req.Stream)
	if up != nil && !handoverKeepsStills() && up.captured.Before(g.Epoch()) {
		up = nil // another epoch's (invariant 8): never the holder's to see
	}
	now := time.Now()
	tooOld := func(t time.Time) bool { return req.MaxAge > 0 && now.Sub(t) > req.MaxAge }

	if kf != nil && (up == nil || !up.captured.After(kf.captured)) {
		if tooOld(kf.captured) {
			return nil, false, ErrTooOld
		}
		f, err := s.keyframeStill(ctx, g.User(), kf, req.Width, req.MaxAge)
		if err == nil || up == nil || ctx.Err() != nil {
			return f, false, err
		}
		s.log.Warn("keyframe still failed; serving the last upload", "camera", g.Device(), "stream", req.Stream, "error", err)
		kf = nil
	}
	if up == nil {
		// Offline and nothing uploaded: the last keyframe decoded while
		// the camera was live, so that its card shows its last picture.
		if f := s.lastDecoded(g, req); f != nil && !tooOld(f.captured) {
			return f, true, nil
		}
		return nil, false, ErrOffline
	}
	if tooOld(up.captured) {
		return nil, false, ErrTooOld
	}
	f, err := s.uploadStill(ctx, g, req.Stream, *up, req.Width)
	return f, kf == nil, err
}

// egress is the check of invariant 3, on the device and capture time
// recorded in the still itself: the last thing before a still leaves the
// service.
func (s *Service) egress(g access.Grant, f *frame) error {
	err := g.Check(f.device, f.captured, time.Now())
	if err == nil {
		return nil
	}
	// A still of the right device captured before the grant's epoch is a
	// violation too: freshest never picks one.
	// A grant that ended (expired, or revoked while a decode ran) is no
	// mix-up: refused, not counted, as the hub does.
	if !errors.Is(err, access.ErrGrantExpired) && !errors.Is(err, access.ErrGrantRevoked) {
		s.cfg.Violations.Inc()
		s.log.Error("isolation violation at egress: still withheld",
			"error", err, "grant_user", g.User(), "grant_camera", g.Device(),
			"object_camera", f.device, "object_stream", f.stream, "source", f.source)
	}
	return fmt.Errorf("stills: %w", err)
}

// acquire takes a decode worker for user, in user's turn (see queue).
func (s *Service) acquire(ctx context.Context, user access.UserID) error {
	return s.workers.acquire(ctx, user)
}

func (s *Service) release() { s.workers.release() }

// Boundary is the multipart boundary MJPEG writes between parts; the caller
// puts it in the Content-Type header ("multipart/x-mixed-replace;
// boundary=" + Boundary). It is long and fixed: parts carry Content-Length,
// and the chance of a JPEG holding it is nil for practical purposes.
const Boundary = "vigil-mjpeg-4f1c9a7e2b6d0835"

// Boundary returns the package's Boundary, for callers holding a Service.
func (s *Service) Boundary() string { return Boundary }
