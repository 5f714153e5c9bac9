package app

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"vigil/internal/access"
	"vigil/internal/auth"
	"vigil/internal/blob"
	"vigil/internal/config"
	"vigil/internal/datadir"
	"vigil/internal/hub"
	"vigil/internal/record"
	"vigil/internal/seal"
	"vigil/internal/stills"
	"vigil/internal/store/backend"
)

// grantTimeout bounds the store read of one recorder grant.
const grantTimeout = 5 * time.Second

// newRecordings builds the recorder and the library over
// data_dir/recordings. The recorder reads with grants auth mints for the
// device's current epoch (auth.Service.RecorderGrant); one auth cannot
// mint is the zero grant, which the hub refuses, and the recorder tries
// again at its next poll.
func newRecordings(ctx context.Context, cfg config.Config, st backend.Store, h *hub.Hub, sealer *seal.Sealer, grants *auth.Service,
	reg prometheus.Registerer, log *slog.Logger) (*record.Recorder, *record.Library, error) {
	var index record.Index = st // SQLite and Postgres alike
	blobs, err := recordStore(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	rec, err := record.New(record.Config{
		Hub: h, Sealer: sealer, Blobs: blobs, Index: index,
		Targets: func(ctx context.Context) ([]record.Target, error) { return recordTargets(ctx, st) },
		Grant: func(d access.DeviceID) access.Grant {
			ctx, cancel := context.WithTimeout(context.Background(), grantTimeout)
			defer cancel()
			g, err := grants.RecorderGrant(ctx, d)
			if err != nil {
				log.Warn("recorder: no grant for the camera; retrying at the next poll", "camera", d, "error", err)
			}
			return g
		},
		SegmentDuration: cfg.RecordSegment, Registerer: reg, Logger: log,
	})
	if err != nil {
		return nil, nil, err
	}
	lib := &record.Library{Sealer: sealer, Blobs: blobs, Index: index, Violations: h.Metrics().Violations, Logger: log}
	return rec, lib, nil
}

// recordStore is record_store: data_dir/recordings, or an S3 bucket.
func recordStore(ctx context.Context, cfg config.Config) (blob.Store, error) {
	raw := cfg.RecordStore.Reveal()
	if raw == "" {
		return blob.NewDisk(filepath.Join(cfg.DataDir, datadir.RecordingsDir))
	}
	s3, err := blob.ParseS3URL(raw)
	if err != nil {
		return nil, fmt.Errorf("record_store: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return blob.NewS3(ctx, s3)
}

// recordTargets are the streams of the enabled cameras that are recorded:
// each main stream, all the time or around events only by its camera's
// record_main flag; each sub stream whose camera's record_sub is on.
func recordTargets(ctx context.Context, st backend.Store) ([]record.Target, error) {
	devs, err := st.Devices(ctx)
	if err != nil {
		return nil, err
	}
	flags, err := st.AllContinuous(ctx)
	if err != nil {
		return nil, err
	}
	var out []record.Target
	for _, d := range devs {
		if d.Disabled {
			continue
		}
		c, ok := flags[d.ID]
		if !ok {
			c = record.Continuous{Main: true}
		}
		out = append(out, record.Target{Device: d.ID, Stream: access.StreamMain, EventsOnly: !c.Main})
		if c.Sub {
			out = append(out, record.Target{Device: d.ID, Stream: access.StreamSub})
		}
	}
	return out, nil
}

// eventThumbMaxAge and eventThumbWidth are what an event marked without
// a thumbnail gets: the camera's still, this fresh, this wide.
const (
	eventThumbMaxAge = 30 * time.Second
	eventThumbWidth  = 320
)

// newEvents marks and serves cameras' events, recorded around by rec and
// sealed into lib's blob store. An event marked without a thumbnail gets
// the camera's current still, read with the recorder's grant.
func newEvents(st backend.Store, rec *record.Recorder, lib *record.Library, sealer *seal.Sealer, still *stills.Service,
	grants *auth.Service, reg prometheus.Registerer, log *slog.Logger) *record.Events {
	ev := &record.Events{Index: st, Sealer: sealer, Blobs: lib.Blobs, Recorder: rec, Violations: lib.Violations, Logger: log,
		Thumb: func(ctx context.Context, d access.DeviceID) ([]byte, time.Time, error) {
			g, err := grants.RecorderGrant(ctx, d)
			if err != nil {
				return nil, time.Time{}, err
			}
			s, err := still.Get(ctx, g, stills.Request{MaxAge: eventThumbMaxAge, Width: eventThumbWidth})
			return s.JPEG, s.Captured, err
		}}
	ev.Register(reg)
	return ev
}
