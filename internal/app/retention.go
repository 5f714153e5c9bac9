package app

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"vigil/internal/access"
	"vigil/internal/blob"
	"vigil/internal/config"
	"vigil/internal/record"
	"vigil/internal/store/backend"
)

// newRetention sweeps the recordings in blobs by each camera's rule, with
// record_retain and record_retain_bytes for what a camera leaves unset.
func newRetention(cfg config.Config, st backend.Store, blobs blob.Store, reg prometheus.Registerer, log *slog.Logger) *record.Retention {
	deleted := prometheus.NewCounter(prometheus.CounterOpts{Name: "vigil_record_deleted_total",
		Help: "Recordings deleted by retention: past their camera's age or bytes, or of an earlier ownership epoch."})
	reg.MustRegister(deleted)
	return &record.Retention{
		Index: st, Events: st, Blobs: blobs, Deleted: deleted, Logger: log,
		Devices: func(ctx context.Context) ([]access.DeviceID, error) {
			devs, err := st.Devices(ctx)
			ids := make([]access.DeviceID, 0, len(devs))
			for _, d := range devs {
				ids = append(ids, d.ID)
			}
			return ids, err
		},
		Rule: func(ctx context.Context, d access.DeviceID) (record.Rule, error) {
			rule, err := st.Retention(ctx, d)
			if rule.Age == 0 {
				rule.Age = cfg.RecordRetain
			}
			if rule.Bytes == 0 {
				rule.Bytes = cfg.RecordRetainBytes
			}
			return rule, err
		},
	}
}
