package record

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"vigil/internal/access"
	"vigil/internal/blob"
	"vigil/internal/seal"
)

// Events marks events for cameras and serves them to grants: a camera's
// events of its current ownership epoch, each with a thumbnail sealed
// under that epoch's key (so a later owner opens none of them, even with
// the rows restored), and the recording around each (Recorder.Event).
type Events struct {
	Index interface {
		EventIndex
		Epoch(ctx context.Context, device access.DeviceID) (time.Time, []byte, error)
	}
	Sealer *seal.Sealer
	Blobs  blob.Store
	// Recorder records around events; nil records nothing for them.
	Recorder *Recorder
	// Thumb takes a thumbnail (a JPEG still of the camera's main stream)
	// for an event marked without one, and says when it was captured; nil
	// leaves such an event without.
	Thumb func(ctx context.Context, device access.DeviceID) ([]byte, time.Time, error)
	// Rate and Burst bound the events one camera marks: Burst at once,
	// then Rate a second. They default to 1 and 10; a flood beyond is
	// refused (ErrTooManyEvents) and counted.
	Rate  float64
	Burst int
	// Violations counts thumbnails that did not open under the grant's
	// key (vigil_isolation_violations_total). Required.
	Violations prometheus.Counter
	// Logger defaults to slog.Default().
	Logger *slog.Logger

	once    sync.Once
	marked  prometheus.Counter
	limited prometheus.Counter
	mu      sync.Mutex
	buckets map[access.DeviceID]*bucket // guarded by mu
}

// Errors of Events.
var (
	// ErrTooManyEvents means the camera marked more events than its rate
	// allows; the event was not kept.
	ErrTooManyEvents = errors.New("record: too many events from this camera; slow down")
	// ErrBadEvent means an event's fields are not acceptable (see Mark).
	ErrBadEvent = errors.New("record: bad event")
)

// Limits on what an event may hold.
const (
	// MaxThumb bounds a thumbnail's size.
	MaxThumb = 512 << 10
	// maxEventSpan bounds how long an event lasts (its end past its start)
	// and how far its start may be from now.
	maxEventSpan = 10 * time.Minute
	// maxEventsListed bounds one listing.
	maxEventsListed = 1000
	// maxBuckets bounds the cameras whose rates are remembered; past it,
	// full buckets (cameras quiet for a while) are forgotten.
	maxBuckets = 100_000
)

// thumbStream is the associated data's stream of a sealed thumbnail: no
// still or frame of the camera's streams opens as one, nor one as them.
const thumbStream access.StreamID = "event-thumb"

// Register registers the events' metrics on reg; nil registers nowhere.
func (ev *Events) Register(reg prometheus.Registerer) {
	ev.init()
	if reg != nil {
		reg.MustRegister(ev.marked, ev.limited)
	}
}

func (ev *Events) init() {
	ev.once.Do(func() {
		ev.marked = prometheus.NewCounter(prometheus.CounterOpts{Name: "vigil_events_marked_total", Help: "Camera events kept."})
		ev.limited = prometheus.NewCounter(prometheus.CounterOpts{Name: "vigil_events_refused_total",
			Help: "Camera events refused because their camera marked more than its rate allows."})
		ev.buckets = map[access.DeviceID]*bucket{}
	})
}

// Mark keeps an event of device, which the caller has authenticated (the
// camera's own credential, or its owner): e's Kind, Start, End and Score;
// jpeg, when not nil, is its thumbnail, else Thumb takes one. The event
// belongs to the device's current epoch, and its recording starts with
// the pre-roll. Errors: ErrTooManyEvents, ErrBadEvent.
func (ev *Events) Mark(ctx context.Context, device access.DeviceID, e Event, jpeg []byte) (Event, error) {
	ev.init()
	now := time.Now()
	if err := validEvent(e, jpeg, now); err != nil {
		return e, err
	}
	if !ev.take(device, now) {
		ev.limited.Inc()
		return e, ErrTooManyEvents
	}
	epoch, secret, err := ev.Index.Epoch(ctx, device)
	if err != nil {
		return e, err
	}
	defer clear(secret)
	if e.Start.Before(epoch) {
		return e, fmt.Errorf("%w: it starts before the camera's current owner claimed it", ErrBadEvent)
	}
	e.ID, e.Device, e.Epoch, e.Thumb = 0, device, epoch, ""
	// An event's thumbnail is checked at egress by the event's start
	// (invariant 8): it starts no later than its thumbnail was captured —
	// an uploaded one now, a taken one when the camera took it.
	e.Start = earliest(e.Start, now)
	if ev.Recorder != nil {
		ev.Recorder.Event(device, latest(e.Start, e.End, now))
	}
	if jpeg == nil && ev.Thumb != nil {
		var taken time.Time
		jpeg, taken, err = ev.Thumb(ctx, device)
		switch {
		case err != nil:
			ev.logger().Warn("events: no thumbnail for an event", "camera", device, "error", err)
			jpeg = nil
		case taken.Before(epoch):
			jpeg = nil // the previous owner's picture
		default:
			e.Start = earliest(e.Start, taken)
		}
	}
	if jpeg != nil {
		if err := ev.sealThumb(ctx, &e, secret, jpeg); err != nil {
			return e, err
		}
	}
	if e.ID, err = ev.Index.AddEvent(ctx, e); err != nil {
		if e.Thumb != "" {
			if derr := ev.Blobs.Delete(context.WithoutCancel(ctx), e.Thumb); derr != nil {
				ev.logger().Warn("events: a thumbnail without its row is left; retention does not see it", "camera", device,
					"object", e.Thumb, "error", derr)
			}
		}
		return e, err
	}
	ev.marked.Inc()
	return e, nil
}

// validEvent checks what a caller may give of an event.
func validEvent(e Event, jpeg []byte, now time.Time) error {
	switch {
	case !e.Kind.Valid():
		return fmt.Errorf("%w: kind must be motion, sound, person or ring", ErrBadEvent)
	case e.Start.IsZero() || e.Start.Before(now.Add(-maxEventSpan)) || e.Start.After(now.Add(time.Minute)):
		return fmt.Errorf("%w: start must be within the last ten minutes", ErrBadEvent)
	case !e.End.IsZero() && (e.End.Before(e.Start) || e.End.Sub(e.Start) > maxEventSpan):
		return fmt.Errorf("%w: end must be after start, by ten minutes at most", ErrBadEvent)
	case e.Score < 0 || e.Score > 1:
		return fmt.Errorf("%w: score must be between 0 and 1", ErrBadEvent)
	case jpeg != nil && (len(jpeg) > MaxThumb || len(jpeg) < 4 || jpeg[0] != 0xFF || jpeg[1] != 0xD8):
		return fmt.Errorf("%w: the thumbnail must be a JPEG of at most 512 KiB", ErrBadEvent)
	}
	return nil
}

// sealThumb seals jpeg under the epoch whose secret is secret and stores
// it, filling in e's ThumbID and Thumb.
func (ev *Events) sealThumb(ctx context.Context, e *Event, secret, jpeg []byte) error {
	var b [8]byte
	rand.Read(b[:])
	e.ThumbID = binary.BigEndian.Uint64(b[:])
	sealed, err := ev.Sealer.Seal(e.Device, secret, thumbStream, e.ThumbID, jpeg)
	if err != nil {
		return err
	}
	key := thumbKey(e.Device, e.Start, e.ThumbID)
	if err := ev.Blobs.Put(ctx, key, bytes.NewReader(sealed), int64(len(sealed))); err != nil {
		return fmt.Errorf("store thumbnail: %w", err)
	}
	e.Thumb = key
	return nil
}

// thumbKey is where a thumbnail is kept, built from typed values only.
func thumbKey(device access.DeviceID, start time.Time, id uint64) string {
	return fmt.Sprintf("evt/%s/%d-%016x.jpg", device, start.UnixNano(), id)
}

// List lists the grant's device's events with a start in [from, to), by
// start: those of the device's current epoch from the grant's epoch on.
func (ev *Events) List(ctx context.Context, g access.Grant, from, to time.Time) ([]Event, error) {
	if err := g.Live(time.Now()); err != nil {
		return nil, err
	}
	epoch, secret, err := ev.Index.Epoch(ctx, g.Device())
	if err != nil {
		return nil, err
	}
	clear(secret)
	if eventsIgnoreEpoch() {
		return ev.anyEpoch(ctx, g.Device(), from, to)
	}
	if e := g.Epoch(); from.Before(e) {
		from = e
	}
	out, err := ev.Index.Events(ctx, g.Device(), epoch, from, to, maxEventsListed)
	if out == nil {
		out = []Event{}
	}
	return out, err
}

// anyEpoch is the planted bug mutant.EventListNoEpoch: the device's
// events in [from, to) whatever their epoch.
func (ev *Events) anyEpoch(ctx context.Context, device access.DeviceID, from, to time.Time) ([]Event, error) {
	all, err := ev.Index.OldestEvents(ctx, device, maxEventsListed)
	out := []Event{}
	for _, e := range all {
		if !e.Start.Before(from) && e.Start.Before(to) {
			out = append(out, e)
		}
	}
	return out, err
}

// Thumbnail opens event id's thumbnail for the grant. See ErrNotFound
// (no such event the grant may see, or none with a thumbnail) and
// ErrIsolation (its object does not open under the grant's key: counted).
func (ev *Events) Thumbnail(ctx context.Context, g access.Grant, id int64) ([]byte, error) {
	now := time.Now()
	if err := g.Live(now); err != nil {
		return nil, err
	}
	e, err := ev.Index.Event(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	epoch, secret, err := ev.Index.Epoch(ctx, g.Device())
	if err != nil {
		return nil, err
	}
	defer clear(secret)
	if e.Device != g.Device() || !thumbIgnoresEpoch() && (!e.Epoch.Equal(epoch) || g.Check(e.Device, e.Start, now) != nil) ||
		e.Thumb == "" {
		return nil, ErrNotFound
	}
	return ev.openThumb(ctx, g, secret, e)
}

// openThumb opens e's thumbnail under secret, the key of e's epoch, for
// g, which the caller has checked may see e.
func (ev *Events) openThumb(ctx context.Context, g access.Grant, secret []byte, e Event) ([]byte, error) {
	rc, err := ev.Blobs.Get(ctx, e.Thumb, 0, -1)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDamaged, err)
	}
	defer rc.Close()
	sealed, err := io.ReadAll(io.LimitReader(rc, MaxThumb+seal.Overhead+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDamaged, err)
	}
	jpeg, err := ev.Sealer.Open(g, secret, thumbStream, e.ThumbID, sealed)
	if err != nil {
		ev.Violations.Inc()
		ev.logger().Error("isolation violation: an event's thumbnail does not open under its camera's key; not served",
			"camera", g.Device(), "user", g.User(), "event", e.ID, "object", e.Thumb)
		return nil, ErrIsolation
	}
	return jpeg, nil
}

// Window is the span an event's recording covers: from PreRoll before its
// start to PostRoll past its end (its start when it has none).
func (ev *Events) Window(e Event) (from, to time.Time) {
	pre, post := defaultPreRoll, defaultPostRoll
	if ev.Recorder != nil {
		pre, post = ev.Recorder.cfg.PreRoll, ev.Recorder.cfg.PostRoll
	}
	return e.Start.Add(-pre), latest(e.Start, e.End).Add(post)
}

func (ev *Events) logger() *slog.Logger {
	if ev.Logger == nil {
		return slog.Default()
	}
	return ev.Logger
}

// take takes one event from device's bucket at now, or reports false.
func (ev *Events) take(device access.DeviceID, now time.Time) bool {
	rate, burst := ev.Rate, float64(ev.Burst)
	if rate <= 0 {
		rate = 1
	}
	if burst <= 0 {
		burst = 10
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	b := ev.buckets[device]
	if b == nil {
		if len(ev.buckets) >= maxBuckets {
			for d, o := range ev.buckets {
				if o.level(now, rate, burst) >= burst {
					delete(ev.buckets, d)
				}
			}
		}
		b = &bucket{tokens: burst, at: now}
		ev.buckets[device] = b
	}
	b.tokens, b.at = b.level(now, rate, burst), now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// bucket is a token bucket: tokens at time at.
type bucket struct {
	tokens float64
	at     time.Time
}

// level is the bucket's tokens at now, refilled at rate up to burst.
func (b *bucket) level(now time.Time, rate, burst float64) float64 {
	return min(burst, b.tokens+now.Sub(b.at).Seconds()*rate)
}

// latest is the latest of ts.
// earliest is the earlier of a and b.
func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func latest(ts ...time.Time) time.Time {
	var l time.Time
	for _, t := range ts {
		if t.After(l) {
			l = t
		}
	}
	return l
}
