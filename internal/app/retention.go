package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"vigil/internal/access"
	"vigil/internal/auth"
	"vigil/internal/blob"
	"vigil/internal/config"
	"vigil/internal/record"
	"vigil/internal/store/backend"
)

// newRules keeps cameras' retention rules in the store, with
// record_retain, record_retain_events and record_retain_bytes for what a
// camera leaves unset and record_grace before a lowered rule applies.
func newRules(cfg config.Config, st backend.Store) *record.Rules {
	return &record.Rules{Store: st, Grace: cfg.RecordGrace,
		Default: record.Rule{Age: cfg.RecordRetain, EventAge: cfg.RecordRetainEvents, Bytes: cfg.RecordRetainBytes}}
}

// newRetention sweeps the recordings in blobs by each camera's rule in
// force, each household's quota (record_quota unless its own) and the
// low-disk guard (record_min_free, local disk only).
func newRetention(cfg config.Config, st backend.Store, blobs blob.Store, rules *record.Rules, events *record.Events,
	reg prometheus.Registerer, log *slog.Logger) *record.Retention {
	deleted := prometheus.NewCounter(prometheus.CounterOpts{Name: "vigil_record_deleted_total",
		Help: "Recordings deleted by retention: past their camera's age or bytes, or of an earlier ownership epoch."})
	reg.MustRegister(deleted)
	dir := auth.StoreDirectory{Records: st}
	r := &record.Retention{
		Index: st, Events: st, Pins: st, Exports: st, Blobs: blobs, Deleted: deleted, Logger: log, Window: events.Window,
		Devices: func(ctx context.Context) ([]access.DeviceID, error) {
			devs, err := st.Devices(ctx)
			ids := make([]access.DeviceID, 0, len(devs))
			for _, d := range devs {
				ids = append(ids, d.ID)
			}
			return ids, err
		},
		Rule: rules.Rule,
		Households: func(ctx context.Context) (map[access.UserID][]access.DeviceID, error) {
			devs, err := st.Devices(ctx)
			hs := map[access.UserID][]access.DeviceID{}
			for _, d := range devs {
				if d.Owner != "" {
					hs[d.Owner] = append(hs[d.Owner], d.ID)
				}
			}
			return hs, err
		},
		Quota: func(ctx context.Context, h access.UserID) (int64, error) {
			n, err := st.Quota(ctx, h)
			if n == 0 {
				n = cfg.RecordQuota
			}
			return n, err
		},
		// A pin holds while its pinner may still list the camera (owner,
		// live share; RightsOf) and has since before the pin: a share
		// ended and made again ends the pins of the first.
		PinHeld: func(ctx context.Context, p record.Pin) (bool, error) {
			u, err := st.User(ctx, p.User)
			if err != nil || u.Disabled {
				return false, nil // a pinner gone or disabled holds nothing
			}
			standing, err := dir.Standing(ctx, p.User, p.Device)
			if err != nil {
				return false, err
			}
			rights := auth.RightsOf(auth.Caller{Principal: auth.Principal{ID: u.ID, Admin: u.Admin}}, standing, time.Now())
			return rights.Listed && !p.Created.Before(standing.Since), nil
		},
	}
	if sp, ok := blobs.(blob.Spacer); ok && cfg.RecordMinFree > 0 {
		r.Free, r.MinFree = sp.Free, cfg.RecordMinFree
	} else if cfg.RecordMinFree > 0 {
		log.Info("retention: the recording store does not report its free space (S3-compatible); the low-disk guard is off")
	}
	r.Register(reg)
	return r
}
