package record

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"vigil/internal/access"
	"vigil/internal/blob"
)

// Retention deletes recordings, oldest first, objects then rows:
//
//   - every recording of an earlier ownership epoch (a camera that changed
//     hands cannot open its old footage, see seal, and nobody may list it);
//   - those a camera's Rule no longer keeps: older than its Age, unless an
//     event of the epoch touches them (then EventAge, the larger wins), and
//     the oldest while the camera is over its Bytes;
//   - the oldest of a household's cameras while the household is over its
//     Quota;
//   - the oldest of every camera while the disk's free space is below
//     MinFree (the low-disk guard).
//
// Pinned footage (Pin) is never deleted by a rule, the quota or the guard,
// but is counted in the camera's and the household's bytes; only a change
// of hands deletes it. An export (Exports) keeps its ended epoch's footage
// the same way until its deadline. Pins whose pinner lost their access, or of an
// earlier epoch, are dropped at the sweep.
type Retention struct {
	Index interface {
		Index
		// OldestRecordingsAfter lists up to limit of the device's rows of
		// every stream and epoch after (start, id) in (start, id) order;
		// id 0 starts at the oldest.
		OldestRecordingsAfter(ctx context.Context, device access.DeviceID, start time.Time, id int64, limit int) ([]Recording, error)
	}
	Blobs blob.Store
	// Events, when set, is swept too: events (rows and thumbnails) of an
	// earlier epoch, and those that ended longer than the rule keeps
	// event footage; its events extend the footage they touch.
	Events EventIndex
	// Window is the span of footage an event touches (Events.Window); nil
	// takes the event's own start and end.
	Window func(Event) (from, to time.Time)
	// Pins, when set, keeps pinned footage; PinHeld says whether a pin's
	// pinner still has access to its camera since before the pin (nil:
	// every pin of the current epoch holds).
	Pins    PinIndex
	PinHeld func(ctx context.Context, p Pin) (bool, error)
	// Exports, when set, keeps the footage of exports (an ended epoch a
	// release kept for its household) until their deadlines, as pins keep
	// theirs; at a deadline the sweep destroys the export's secret, then
	// deletes its footage as an earlier epoch's.
	Exports ExportIndex
	// Devices lists the cameras whose footage is swept.
	Devices func(ctx context.Context) ([]access.DeviceID, error)
	// Rule is a camera's rule in force (Rules.Rule).
	Rule func(ctx context.Context, device access.DeviceID) (Rule, error)
	// Households lists each household's cameras and Quota its bytes
	// (plaintext, 0: none); with either nil no quota applies.
	Households func(ctx context.Context) (map[access.UserID][]access.DeviceID, error)
	Quota      func(ctx context.Context, household access.UserID) (int64, error)
	// Free is the free space where the recordings are kept, and MinFree
	// the least the guard lets it fall to; nil Free or zero MinFree turns
	// the guard off.
	Free    func(ctx context.Context) (int64, error)
	MinFree int64
	// Every is how often Run sweeps. It defaults to ten minutes.
	Every time.Duration
	// GuardEvery is how often Run checks the free space between sweeps
	// (Guard): cameras fill a disk faster than a sweep comes round. It
	// defaults to 30 seconds.
	GuardEvery time.Duration
	// Now defaults to time.Now; tests set a fake clock.
	Now func() time.Time
	// Deleted counts recordings deleted (vigil_record_deleted_total); nil
	// counts nowhere.
	Deleted prometheus.Counter
	// Logger defaults to slog.Default().
	Logger *slog.Logger

	once    sync.Once
	metrics retentionMetrics
	warned  time.Time // guarded by being used by Sweep alone; see lowDisk
}

// Why a recording was deleted: the reason label of
// vigil_record_retention_deleted_total.
const (
	reasonEpoch   = "epoch"
	reasonAge     = "age"
	reasonBytes   = "camera_bytes"
	reasonQuota   = "quota"
	reasonLowDisk = "low_disk"
)

type retentionMetrics struct {
	deleted   *prometheus.CounterVec
	stored    *prometheus.GaugeVec // by camera
	pinned    *prometheus.GaugeVec // by camera
	household *prometheus.GaugeVec // stored, by household
	exports   prometheus.Counter   // secrets destroyed at their deadline
}

func (r *Retention) init() {
	r.once.Do(func() {
		r.metrics = retentionMetrics{
			deleted: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_record_retention_deleted_total",
				Help: "Recordings deleted, by reason: epoch (the camera changed hands), age, camera_bytes, quota (the household's), low_disk (the guard)."},
				[]string{"reason"}),
			stored: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "vigil_record_stored_bytes",
				Help: "Recorded bytes (plaintext) of each camera at the last retention sweep."}, []string{"camera"}),
			pinned: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "vigil_record_pinned_bytes",
				Help: "Recorded bytes of each camera kept by pins at the last retention sweep (counted in vigil_record_stored_bytes)."},
				[]string{"camera"}),
			household: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "vigil_record_household_stored_bytes",
				Help: "Recorded bytes (plaintext) of each household's cameras at the last retention sweep (its quota's measure)."},
				[]string{"household"}),
		}
		r.metrics.exports = prometheus.NewCounter(prometheus.CounterOpts{Name: "vigil_record_exports_expired_total",
			Help: "Exports whose deadline came: their epoch's secret destroyed, their footage deleted."})
		for _, why := range []string{reasonEpoch, reasonAge, reasonBytes, reasonQuota, reasonLowDisk} {
			r.metrics.deleted.WithLabelValues(why)
		}
	})
}

// Register registers the retention's metrics on reg.
func (r *Retention) Register(reg prometheus.Registerer) {
	r.init()
	reg.MustRegister(r.metrics.deleted, r.metrics.stored, r.metrics.pinned, r.metrics.household, r.metrics.exports)
}

// sweepPage bounds the rows of a camera read at once; guardPage those of
// each camera while the guard or a quota walks many cameras together.
const (
	sweepPage = 200
	guardPage = 16
)

// lowDiskEvery bounds the guard's warnings in the log.
const lowDiskEvery = 10 * time.Minute

// Run sweeps every Every until ctx ends. The first sweep waits one Every,
// so that the recorder's reconciliation at start does not race it.
func (r *Retention) Run(ctx context.Context) error {
	every := r.Every
	if every <= 0 {
		every = 10 * time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	guard := time.NewTicker(cmp.Or(r.GuardEvery, 30*time.Second))
	defer guard.Stop()
	for {
		sweep := r.Sweep
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-guard.C:
			sweep = r.Guard
		}
		if n, err := sweep(ctx); err != nil && ctx.Err() == nil {
			r.logger().Error("retention: sweep failed; trying again later", "deleted", n, "error", err)
		}
	}
}

// Guard runs the low-disk guard alone: when the free space is below
// MinFree it deletes the oldest unpinned footage of every camera.
func (r *Retention) Guard(ctx context.Context) (int, error) {
	r.init()
	if r.Free == nil || r.MinFree <= 0 {
		return 0, nil
	}
	if free, err := r.Free(ctx); err != nil || free >= r.MinFree {
		return 0, err
	}
	devs, err := r.Devices(ctx)
	if err != nil {
		return 0, err
	}
	pins := map[access.DeviceID][]Pin{}
	for _, d := range devs {
		if pins[d], _, err = r.pins(ctx, d); err != nil {
			return 0, err
		}
		exp, err := r.exportPins(ctx, d, false)
		if err != nil {
			return 0, err
		}
		pins[d] = append(pins[d], exp...)
	}
	return r.lowDisk(ctx, devs, pins)
}

// Sweep applies every camera's rule, then the households' quotas, then
// the low-disk guard, once, and returns how many recordings it deleted.
// A camera whose sweep fails does not stop the others'.
func (r *Retention) Sweep(ctx context.Context) (int, error) {
	r.init()
	devs, err := r.Devices(ctx)
	if err != nil {
		return 0, err
	}
	var total int
	var errs []error
	pins := map[access.DeviceID][]Pin{}
	for _, d := range devs {
		held, err := r.heldPins(ctx, d)
		if err != nil {
			errs = append(errs, fmt.Errorf("camera %s: pins: %w", d, err))
			continue
		}
		exp, err := r.exportPins(ctx, d, true)
		if err != nil {
			errs = append(errs, fmt.Errorf("camera %s: exports: %w", d, err))
			continue
		}
		held = append(held, exp...)
		pins[d] = held
		n, err := r.sweep(ctx, d, held)
		total += n
		if err != nil {
			errs = append(errs, fmt.Errorf("camera %s: %w", d, err))
		}
	}
	n, err := r.quotas(ctx, pins)
	total += n
	errs = append(errs, err)
	n, err = r.lowDisk(ctx, devs, pins)
	total += n
	errs = append(errs, err)
	errs = append(errs, r.gauge(ctx, devs, pins))
	return total, errors.Join(errs...)
}

// heldPins drops the device's pins that no longer hold (an earlier epoch,
// a pinner without access) and returns the rest.
func (r *Retention) heldPins(ctx context.Context, device access.DeviceID) ([]Pin, error) {
	held, ended, err := r.pins(ctx, device)
	if err != nil {
		return nil, err
	}
	for _, p := range ended {
		if err := r.Pins.DeletePin(ctx, p.ID); err != nil {
			return nil, err
		}
	}
	return held, nil
}

// exportPins are the device's exports kept at now, each as a pin of its
// epoch's span; with destroy, it first destroys the secrets of those whose
// deadline has come (their footage is then an ended epoch's, deleted).
func (r *Retention) exportPins(ctx context.Context, device access.DeviceID, destroy bool) ([]Pin, error) {
	if r.Exports == nil {
		return nil, nil
	}
	all, err := r.Exports.DeviceExports(ctx, device)
	if err != nil {
		return nil, err
	}
	var out []Pin
	now := r.now()
	for _, e := range all {
		switch {
		case now.Before(e.Deadline): // ID 0: an export's (see exported)
			out = append(out, Pin{Device: e.Device, Epoch: e.Epoch, User: e.Household, Start: e.Epoch, End: e.Released})
		case destroy:
			if err := r.Exports.DestroyExport(ctx, e.ID); err != nil {
				return nil, err
			}
			r.metrics.exports.Inc()
		}
	}
	return out, nil
}

// exported reports whether p is an export's pin (exportPins), not a
// person's.
func exported(p Pin) bool { return p.ID == 0 }

// bytes is the plaintext size of the device's recordings less those its
// exports keep: an earlier household's kept footage counts against
// nobody's rule or quota now, and its size is not shown to the camera's
// next owner.
func (r *Retention) bytes(ctx context.Context, device access.DeviceID) (int64, error) {
	n, err := r.Index.RecordingBytes(ctx, device)
	if err != nil {
		return 0, err
	}
	exp, err := r.exportPins(ctx, device, false)
	if err != nil || len(exp) == 0 {
		return n, err
	}
	kept, err := r.pinnedBytes(ctx, device, exp)
	return n - kept, err
}

// pins are the device's pins that hold and those that no longer do (an
// earlier epoch's, a pinner's without access).
func (r *Retention) pins(ctx context.Context, device access.DeviceID) (held, ended []Pin, err error) {
	if r.Pins == nil {
		return nil, nil, nil
	}
	epoch, secret, err := r.Index.Epoch(ctx, device)
	if err != nil {
		return nil, nil, err
	}
	clear(secret)
	all, err := r.Pins.Pins(ctx, device)
	if err != nil {
		return nil, nil, err
	}
	for _, p := range all {
		ok := p.Epoch.Equal(epoch)
		if ok && r.PinHeld != nil {
			if ok, err = r.PinHeld(ctx, p); err != nil {
				return nil, nil, err
			}
		}
		if ok {
			held = append(held, p)
		} else {
			ended = append(ended, p)
		}
	}
	return held, ended, nil
}

func (r *Retention) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// sweep deletes the device's recordings its rule does not keep.
func (r *Retention) sweep(ctx context.Context, device access.DeviceID, pins []Pin) (int, error) {
	rule, err := r.Rule(ctx, device)
	if err != nil {
		return 0, err
	}
	epoch, secret, err := r.Index.Epoch(ctx, device)
	if err != nil {
		return 0, err
	}
	clear(secret)
	size, err := r.bytes(ctx, device)
	if err != nil {
		return 0, err
	}
	now := r.now()
	cutoff, eventCutoff := now.Add(-rule.Age), now.Add(-rule.keepFor())
	var touched []window
	if r.Events != nil {
		if err := r.sweepEvents(ctx, device, epoch, rule, eventCutoff, pins); err != nil {
			return 0, err
		}
		if touched, err = r.windows(ctx, device, epoch, rule, eventCutoff); err != nil {
			return 0, err
		}
	}
	deleted := 0
	var after Recording
	for {
		rows, err := r.Index.OldestRecordingsAfter(ctx, device, after.Start, after.ID, sweepPage)
		if err != nil {
			return deleted, err
		}
		for _, row := range rows {
			after = row
			old := !row.Epoch.Equal(epoch)
			expired := rule.Age > 0 && row.End().Before(cutoff)
			over := rule.Bytes > 0 && size > rule.Bytes
			var why string
			switch {
			case old && pinned(pins, row):
				continue // an export's, until its deadline
			case old:
				why = reasonEpoch
			case !expired && !over:
				return deleted, nil
			case pinned(pins, row):
				continue
			case over:
				why = reasonBytes
			case touches(touched, row) && (rule.keepFor() == 0 || !row.End().Before(eventCutoff)):
				continue // event footage, kept for the larger rule
			default:
				why = reasonAge
			}
			if err := r.delete(ctx, row, why); err != nil {
				return deleted, err
			}
			deleted, size = deleted+1, size-row.Size
		}
		if len(rows) < sweepPage {
			return deleted, nil
		}
	}
}

// window is the span of footage an event touches.
type window struct{ from, to time.Time }

// windows are the spans of the device's events of epoch that end after
// eventCutoff: the footage they touch is kept for the larger rule.
func (r *Retention) windows(ctx context.Context, device access.DeviceID, epoch time.Time, rule Rule, eventCutoff time.Time) ([]window, error) {
	if rule.EventAge <= rule.Age || rule.Age == 0 {
		return nil, nil // the event rule keeps nothing the continuous one does not
	}
	from := eventCutoff.Add(-2 * maxEventSpan) // an event's window ends at most this long after its start
	var out []window
	for {
		evs, err := r.Events.Events(ctx, device, epoch, from, r.now().Add(time.Hour), sweepPage)
		if err != nil {
			return nil, err
		}
		for _, e := range evs {
			f, t := r.window(e)
			out = append(out, window{f, t})
			from = e.Start.Add(time.Nanosecond)
		}
		if len(evs) < sweepPage {
			return out, nil
		}
	}
}

// window is the span of footage e touches.
func (r *Retention) window(e Event) (time.Time, time.Time) {
	if r.Window != nil {
		return r.Window(e)
	}
	return e.Start, latest(e.Start, e.End)
}

// touches reports whether an event's window overlaps rec.
func touches(ws []window, rec Recording) bool {
	for _, w := range ws {
		if w.from.Before(rec.End()) && w.to.After(rec.Start) {
			return true
		}
	}
	return false
}

// keptByExport reports whether an export's pin (exportPins) keeps e, an
// event of its ended epoch captured before the release.
func keptByExport(pins []Pin, e Event) bool {
	for _, p := range pins {
		if exported(p) && p.Device == e.Device && p.Epoch.Equal(e.Epoch) && !e.Start.Before(p.Start) && e.Start.Before(p.End) {
			return true
		}
	}
	return false
}

// pinned reports whether a pin keeps rec.
func pinned(pins []Pin, rec Recording) bool {
	for _, p := range pins {
		if p.covers(rec) {
			return true
		}
	}
	return false
}

// sweepEvents deletes the device's events of an earlier epoch that no
// export keeps and those whose footage ended before eventCutoff (with an
// Age rule) and that no pin holds, oldest first: the thumbnail's object, then the row.
func (r *Retention) sweepEvents(ctx context.Context, device access.DeviceID, epoch time.Time, rule Rule, eventCutoff time.Time, pins []Pin) error {
	held := map[int64]bool{}
	for _, p := range pins {
		held[p.Event] = true
	}
	var kept int
	for {
		evs, err := r.Events.OldestEvents(ctx, device, kept+sweepPage)
		if err != nil {
			return err
		}
		for _, e := range evs[min(kept, len(evs)):] {
			old := !e.Epoch.Equal(epoch)
			_, end := r.window(e)
			expired := rule.Age > 0 && end.Before(eventCutoff)
			switch {
			case !old && !expired:
				return nil
			case !old && held[e.ID], old && keptByExport(pins, e):
				kept++
				continue
			}
			if e.Thumb != "" {
				if err := r.Blobs.Delete(ctx, e.Thumb); err != nil {
					return err
				}
			}
			if err := r.Events.DeleteEvent(ctx, e.ID); err != nil {
				return err
			}
		}
		if len(evs) < kept+sweepPage {
			return nil
		}
	}
}

// delete removes a recording's object, then its row: a row whose object
// is gone is never served (ErrDamaged) and reconciliation drops it.
func (r *Retention) delete(ctx context.Context, row Recording, why string) error {
	if err := r.Blobs.Delete(ctx, row.Object); err != nil {
		return err
	}
	if err := r.Index.DeleteRecording(ctx, row.ID); err != nil {
		return err
	}
	if r.Deleted != nil {
		r.Deleted.Inc()
	}
	r.metrics.deleted.WithLabelValues(why).Inc()
	return nil
}

func (r *Retention) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.Default()
	}
	return r.Logger
}
