package record_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"vigil/internal/access"
	"vigil/internal/auth"
	"vigil/internal/blob"
	"vigil/internal/hub"
	"vigil/internal/record"
	"vigil/internal/seal"
	"vigil/internal/store"
	"vigil/internal/store/sqlite"
	"vigil/internal/testkit"
	"vigil/internal/testkit/simcam"
)

var issuer = access.NewIssuer()

const (
	testFPS = 25
	testGOP = 25 // one second
)

// env is a hub, a store with two claimed cameras, a disk blob store, a
// running recorder and a library.
type env struct {
	t          *testing.T
	hub        *hub.Hub
	st         *sqlite.Store
	blobs      blob.Store
	blobDir    string // where the disk blob store keeps its files
	cfg        record.Config
	stop       func() // stops the recorder once every segment is filed
	sealer     *seal.Sealer
	rec        *record.Recorder
	lib        *record.Library
	violations prometheus.Counter
	reg        *prometheus.Registry
}

// metric is the value of a counter or gauge of the recorder's.
func (e *env) metric(name string) float64 {
	e.t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			var sum float64
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
			return sum
		}
	}
	return 0
}

func newEnv(t *testing.T) *env { return newEnvWith(t, nil) }

// newEnvWith is newEnv with the recorder's config changed by mutate.
func newEnvWith(t *testing.T, mutate func(*record.Config)) *env {
	t.Helper()
	st := openStore(t, [][2]string{{"cam-a", "u-a"}, {"cam-b", "u-b"}})
	blobDir := t.TempDir()
	blobs, err := blob.NewDisk(blobDir)
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := seal.NewSealer(bytes.Repeat([]byte{7}, seal.MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, hub: hub.New(hub.Config{}), st: st, blobs: blobs, blobDir: blobDir, sealer: sealer,
		violations: prometheus.NewCounter(prometheus.CounterOpts{Name: "v"}), reg: prometheus.NewRegistry()}
	cfg := record.Config{
		Hub: e.hub, Sealer: sealer, Blobs: blobs, Index: st,
		Targets: func(context.Context) ([]record.Target, error) {
			return []record.Target{{Device: "cam-a", Stream: access.StreamMain}, {Device: "cam-b", Stream: access.StreamMain}}, nil
		},
		Grant: func(d access.DeviceID) access.Grant {
			return issuer.Mint("recorder", d, access.AudienceWeb, time.Hour)
		},
		SegmentDuration: time.Second,
		Poll:            5 * time.Millisecond,
		Registerer:      e.reg,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	e.hub, e.cfg = cfg.Hub, cfg
	e.rec, err = record.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { e.rec.Run(runCtx) })
	e.stop = func() { cancel(); wg.Wait() }
	t.Cleanup(e.stop)
	e.lib = &record.Library{Sealer: sealer, Blobs: e.blobs, Index: st, Violations: e.violations}
	return e
}

// publish starts a camera session and waits until the recorder reads it.
func (e *env) publish(dev access.DeviceID) *simcam.Feed {
	e.t.Helper()
	cam := simcam.New(e.t, simcam.Config{ID: string(dev), Secret: []byte("record test"), Width: 640, Height: 360, FPS: testFPS, GOP: testGOP})
	f := simcam.Publish(e.t, e.hub, dev, access.StreamMain, cam, nil)
	if err := f.Frame(); err != nil {
		e.t.Fatal(err)
	}
	testkit.WaitFor(e.t, 5*time.Second, "the recorder joins "+string(dev), func() error {
		if r := testutil.ToFloat64(e.hub.Metrics().Readers.WithLabelValues(string(dev), "main")); r < 1 {
			return fmt.Errorf("%v readers", r)
		}
		return nil
	})
	return f
}

// frames publishes n frames, pausing now and then so the recorder keeps up.
func (e *env) frames(f *simcam.Feed, n int) {
	e.t.Helper()
	for i := range n {
		if err := f.Frame(); err != nil {
			e.t.Fatal(err)
		}
		if i%5 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
}

// owner is a grant as the camera's owner gets it: from its epoch on.
func (e *env) owner(dev access.DeviceID, user access.UserID) access.Grant {
	e.t.Helper()
	d, err := e.st.Device(e.t.Context(), dev)
	if err != nil {
		e.t.Fatal(err)
	}
	return issuer.MintLeased(user, dev, access.AudienceWeb, time.Hour, nil, d.EpochStarted)
}

// spans waits for at least n recorded spans of the grant's camera.
func (e *env) spans(g access.Grant, n int) []record.Span {
	e.t.Helper()
	var spans []record.Span
	testkit.WaitFor(e.t, 10*time.Second, "recorded spans", func() error {
		var err error
		spans, err = e.lib.Timeline(e.t.Context(), g, access.StreamMain, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
		if err == nil && len(spans) < n {
			err = fmt.Errorf("%d spans, want %d", len(spans), n)
		}
		return err
	})
	return spans
}

// recorded publishes gops GOPs of dev, ends the session and returns its
// owner's grant and first recording's row.
func (e *env) recorded(dev access.DeviceID, owner access.UserID, gops int) (access.Grant, record.Recording) {
	e.t.Helper()
	f := e.publish(dev)
	e.frames(f, gops*testGOP)
	f.Pub.Close()
	g := e.owner(dev, owner)
	row, err := e.st.Recording(e.t.Context(), e.spans(g, 1)[0].ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return g, row
}

// openStore opens a SQLite store in a temporary directory with users u-a,
// u-b and u-c and the cameras cams ({device, owner}) claimed by their
// owners.
func openStore(t testing.TB, cams [][2]string) *sqlite.Store {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "v.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, u := range []access.UserID{"u-a", "u-b", "u-c"} {
		if err := st.UpsertUser(ctx, store.User{ID: u, Name: string(u)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range cams {
		d := store.Device{ID: access.DeviceID(c[0]), Name: c[0], Credential: auth.HashCredential(c[0], "pw"),
			CreatedAt: time.Now(), ClaimSHA256: "code-" + c[0]}
		if err := st.CreateDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
		if _, err := st.ClaimDevice(ctx, "code-"+c[0], access.UserID(c[1])); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// metric is the value of the gauge or counter name whose label is value;
// the test fails if there is none.
func metric(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetGauge().GetValue() + m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{%s=%q}", name, label, value)
	return 0
}
