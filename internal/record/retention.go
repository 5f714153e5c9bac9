package record

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"vigil/internal/access"
	"vigil/internal/blob"
)

// Rule bounds a camera's footage: recordings that ended more than Age ago
// are deleted, and the oldest go while the camera's footage is over Bytes
// (plaintext). Zero fields bound nothing.
type Rule struct {
	Age   time.Duration
	Bytes int64
}

// Retention deletes recordings, oldest first, objects then rows: those a
// camera's Rule no longer keeps, and every recording of an earlier
// ownership epoch. A camera that changed hands cannot open its old
// footage (its epoch's secret is gone, see seal) and nobody may list it;
// retention then deletes it at the next sweep.
type Retention struct {
	Index Index
	Blobs blob.Store
	// Events, when set, is swept too: events (rows and thumbnails) of an
	// earlier epoch, and those that ended longer than the rule's Age ago.
	Events EventIndex
	// Devices lists the cameras whose footage is swept.
	Devices func(ctx context.Context) ([]access.DeviceID, error)
	// Rule is a camera's rule (its own, or the server's default).
	Rule func(ctx context.Context, device access.DeviceID) (Rule, error)
	// Every is how often Run sweeps. It defaults to ten minutes.
	Every time.Duration
	// Now defaults to time.Now; tests set a fake clock.
	Now func() time.Time
	// Deleted counts recordings deleted (vigil_record_deleted_total); nil
	// counts nowhere.
	Deleted prometheus.Counter
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// sweepPage bounds the rows of a camera read at once.
const sweepPage = 200

// Run sweeps every Every until ctx ends. The first sweep waits one Every,
// so that the recorder's reconciliation at start does not race it.
func (r *Retention) Run(ctx context.Context) error {
	every := r.Every
	if every <= 0 {
		every = 10 * time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if n, err := r.Sweep(ctx); err != nil && ctx.Err() == nil {
			r.logger().Error("retention: sweep failed; trying again later", "deleted", n, "error", err)
		}
	}
}

// Sweep applies every camera's rule once and returns how many recordings
// it deleted. A camera whose sweep fails does not stop the others'.
func (r *Retention) Sweep(ctx context.Context) (int, error) {
	devs, err := r.Devices(ctx)
	if err != nil {
		return 0, err
	}
	var total int
	var errs []error
	for _, d := range devs {
		n, err := r.sweep(ctx, d)
		total += n
		if err != nil {
			errs = append(errs, fmt.Errorf("camera %s: %w", d, err))
		}
	}
	return total, errors.Join(errs...)
}

// sweep deletes the device's recordings its rule does not keep.
func (r *Retention) sweep(ctx context.Context, device access.DeviceID) (int, error) {
	rule, err := r.Rule(ctx, device)
	if err != nil {
		return 0, err
	}
	epoch, secret, err := r.Index.Epoch(ctx, device)
	if err != nil {
		return 0, err
	}
	clear(secret)
	size, err := r.Index.RecordingBytes(ctx, device)
	if err != nil {
		return 0, err
	}
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	cutoff := now().Add(-rule.Age)
	if r.Events != nil {
		if err := r.sweepEvents(ctx, device, epoch, rule, cutoff); err != nil {
			return 0, err
		}
	}
	deleted := 0
	for {
		rows, err := r.Index.OldestRecordings(ctx, device, sweepPage)
		if err != nil {
			return deleted, err
		}
		for _, row := range rows {
			old := !row.Epoch.Equal(epoch)
			expired := rule.Age > 0 && row.End().Before(cutoff)
			over := rule.Bytes > 0 && size > rule.Bytes
			if !old && !expired && !over {
				return deleted, nil
			}
			if err := r.delete(ctx, row); err != nil {
				return deleted, err
			}
			deleted, size = deleted+1, size-row.Size
		}
		if len(rows) < sweepPage {
			return deleted, nil
		}
	}
}

// sweepEvents deletes the device's events of an earlier epoch and those
// that ended before cutoff (with an Age rule), oldest first: the
// thumbnail's object, then the row.
func (r *Retention) sweepEvents(ctx context.Context, device access.DeviceID, epoch time.Time, rule Rule, cutoff time.Time) error {
	for {
		evs, err := r.Events.OldestEvents(ctx, device, sweepPage)
		if err != nil {
			return err
		}
		for _, e := range evs {
			old := !e.Epoch.Equal(epoch)
			expired := rule.Age > 0 && latest(e.Start, e.End).Before(cutoff)
			if !old && !expired {
				return nil
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
		if len(evs) < sweepPage {
			return nil
		}
	}
}

// delete removes a recording's object, then its row: a row whose object
// is gone is never served (ErrDamaged) and reconciliation drops it.
func (r *Retention) delete(ctx context.Context, row Recording) error {
	if err := r.Blobs.Delete(ctx, row.Object); err != nil {
		return err
	}
	if err := r.Index.DeleteRecording(ctx, row.ID); err != nil {
		return err
	}
	if r.Deleted != nil {
		r.Deleted.Inc()
	}
	return nil
}

func (r *Retention) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.Default()
	}
	return r.Logger
}
