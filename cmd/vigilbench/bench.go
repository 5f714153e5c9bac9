package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"fmt"
	"log"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"

	"vigil/internal/sim"
	"vigil/internal/vigilproc"
)

// bench is what every scenario shares: the clips, the cameras provisioned
// on one data directory, and the Vigil processes started on it.
type bench struct {
	opts   options
	tmp    string
	data   string
	devs   []device
	secret []byte       // stamp secret of the simulated cameras
	big    clip         // the 1080p ~4 Mbit/s clip
	small  clip         // the ~0.5 Mbit/s clip
	logs   []string     // names of the Vigil processes started, in order
	simLog *slog.Logger // the simulated cameras' warnings, to sim.log
}

func newBench(ctx context.Context, o options, tmp string, cameras int) (*bench, error) {
	b := &bench{opts: o, tmp: tmp, data: filepath.Join(tmp, "data"), secret: make([]byte, 32)}
	rand.Read(b.secret)
	f, err := os.Create(filepath.Join(tmp, "sim.log"))
	if err != nil {
		return nil, err
	}
	// The file stays open until the process exits: cameras log until then.
	b.simLog = slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if b.big, err = loadClip(filepath.Join(o.clips, "bench-1920x1080-4mbps.h264"), 25); err != nil {
		return nil, err
	}
	if b.small, err = smallClip(ctx, filepath.Join(o.clips, "small-320x240.h264"), tmp); err != nil {
		return nil, err
	}
	log.Printf("provisioning %d cameras", cameras)
	return b, b.provision(ctx, cameras)
}

// device is a camera provisioned in Vigil's data directory.
type device struct {
	ID       string `json:"id"`
	Password string `json:"password"`
	Claim    string `json:"claim_code"`
}

// provision adds n cameras with `vigil device add` before Vigil starts.
func (b *bench) provision(ctx context.Context, n int) error {
	p, err := vigilproc.New(vigilproc.Config{Bin: b.opts.vigil, Data: b.data})
	if err != nil {
		return err
	}
	for i := range n {
		var d device
		if err := p.CLI(ctx, &d, "device", "add", "--name", fmt.Sprintf("bench-%d", i+1), "--json"); err != nil {
			return err
		}
		if d.ID == "" {
			return fmt.Errorf("vigil device add: no id in its output")
		}
		b.devs = append(b.devs, d)
	}
	return nil
}

// vigil is a running `vigil serve` of the bench.
type vigil struct{ *vigilproc.Proc }

// startVigil runs a fresh Vigil named name on the bench's data directory;
// cfg adds settings (Env, Base) to the bench's.
func (b *bench) startVigil(ctx context.Context, name string, cfg vigilproc.Config) (*vigil, error) {
	b.logs = append(b.logs, name)
	return b.spawn(ctx, name, cfg)
}

// spawn is startVigil without adding name to the bench's logs, on
// cfg.Data if set: the caller adds it (spawn may run concurrently).
func (b *bench) spawn(ctx context.Context, name string, cfg vigilproc.Config) (*vigil, error) {
	cfg.Bin, cfg.Data, cfg.Log = b.opts.vigil, cmp.Or(cfg.Data, b.data), filepath.Join(b.tmp, name+".log")
	// Every simulated camera and reader connects from 127.0.0.1, and the
	// readers are all the admin: the per-address and per-user caps would
	// cap the bench, not measure Vigil.
	cfg.Env = append([]string{"VIGIL_RTSP_MAX_CONNS_PER_ADDRESS=1000000", "VIGIL_HTTP_MAX_CONNS_PER_ADDRESS=1000000",
		"VIGIL_HTTP_MAX_OUTPUTS_PER_USER=1000000"}, cfg.Env...)
	p, err := vigilproc.New(cfg)
	if err != nil {
		return nil, err
	}
	if err := p.Start(ctx); err != nil {
		return nil, err
	}
	return &vigil{p}, nil
}

// pushURL is where camera d publishes.
func (v *vigil) pushURL(d device) string {
	u := url.URL{Scheme: "rtsp", Host: v.RTSP(), Path: "/" + d.ID, User: url.UserPassword(d.ID, d.Password)}
	return u.String()
}

// readURL is where the admin reads camera d.
func (v *vigil) readURL(d device) string {
	u := url.URL{Scheme: "rtsp", Host: v.RTSP(), Path: "/" + d.ID, User: url.UserPassword("admin", v.AdminPassword())}
	return u.String()
}

// apiURL is the admin's URL of path under camera d's API, e.g. "still.jpg".
func (v *vigil) apiURL(d device, path string) string {
	return "http://" + v.HTTP() + "/api/cameras/" + url.PathEscape(d.ID) + "/" + path
}

// Metric names scraped from /metrics.
const (
	metricSkips = "vigil_reader_skips_total"
	metricAlloc = "go_memstats_alloc_bytes_total"
	metricGCs   = "go_gc_duration_seconds_count"
	// The runtime's estimate of its collector's CPU time (an overestimate:
	// compare it between runs, not with the process's CPU).
	metricGCCPU = "go_cpu_classes_gc_total_cpu_seconds_total"
	metricGOP   = "vigil_gop_cache_bytes"
	metricIn    = "vigil_ingest_bytes_total"
	// A cluster node's bus bytes, sealed and chunked; absent on one node.
	metricBusSent     = "vigil_cluster_bus_sent_bytes_total"
	metricBusReceived = "vigil_cluster_bus_received_bytes_total"
)

// scrape returns the sums of the skips, allocation, GC, ingest and bus
// counters and of the GOP caches' bytes.
func (v *vigil) scrape(ctx context.Context) (map[string]float64, error) {
	return v.Metrics(ctx, metricSkips, metricAlloc, metricGCs, metricGCCPU, metricGOP, metricIn, metricBusSent, metricBusReceived)
}

// camera returns a simulated camera publishing c as d to v.
func (b *bench) camera(v *vigil, d device, c clip) *sim.Camera {
	return &sim.Camera{URL: v.pushURL(d), ID: d.ID, Key: sim.CameraKey(b.secret, d.ID), FPS: c.fps, Clip: c.units, Logger: b.simLog}
}

// live starts a Vigil named name (cfg adds settings), publishes c from
// the first camera and waits until it is live; stop ends both.
func (b *bench) live(ctx context.Context, name string, c clip, cfg vigilproc.Config) (*vigil, device, func(), error) {
	d := b.devs[0]
	v, err := b.startVigil(ctx, name, cfg)
	if err != nil {
		return nil, d, nil, err
	}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { b.camera(v, d, c).Run(cctx); close(done) }()
	stop := func() { cancel(); <-done; v.Stop() }
	if err := waitLive(ctx, v.readURL(d)); err != nil {
		stop()
		return nil, d, nil, err
	}
	return v, d, stop, nil
}

// livePair is live with the 1080p clip as the first camera's main stream
// and the small clip as its sub stream.
func (b *bench) livePair(ctx context.Context, name string) (*vigil, device, func(), error) {
	v, d, stop, err := b.live(ctx, name, b.big, vigilproc.Config{})
	if err != nil {
		return nil, d, nil, err
	}
	subCtx, stopSub := context.WithCancel(ctx)
	subDone := make(chan struct{})
	sub := b.camera(v, d, b.small)
	sub.URL += "/sub"
	go func() { sub.Run(subCtx); close(subDone) }()
	stopBoth := func() { stopSub(); <-subDone; stop() }
	if err := waitLive(ctx, v.readURL(d)+"/sub"); err != nil {
		stopBoth()
		return nil, d, nil, fmt.Errorf("sub stream: %w", err)
	}
	return v, d, stopBoth, nil
}

// profilePath is where a CPU profile named name goes with -profile, or ""
// without it.
func (b *bench) profilePath(name string) string {
	if b.opts.profile == "" {
		return ""
	}
	return filepath.Join(b.opts.profile, name+".pprof")
}

// profileWindow fetches, with -profile, Vigil's CPU profile over the next
// measurement window into name.pprof and its heap profile at the window's
// end into name-heap.pprof, with its metrics (name-metrics.txt) and
// goroutines (name-goroutines.txt) then; the channel closes when both are written (at
// once without -profile).
func (b *bench) profileWindow(ctx context.Context, v *vigil, name string) <-chan struct{} {
	if b.opts.profile == "" {
		return closedChan()
	}
	done := make(chan struct{})
	c := v.webClient(1)
	origin := "http://" + v.HTTP()
	cpu := profileDuring(ctx, c, origin, b.opts.window, b.profilePath(name))
	go func() {
		defer close(done)
		defer c.close()
		<-cpu
		fetchProfile(ctx, c, origin+"/debug/pprof/heap", b.profilePath(name+"-heap"))
		// Where the rest of the RSS is (stacks, heap goal, idle spans) and
		// what runs per camera: the runtime's figures and the goroutines.
		fetchProfile(ctx, c, origin+"/metrics", filepath.Join(b.opts.profile, name+"-metrics.txt"))
		fetchProfile(ctx, c, origin+"/debug/pprof/goroutine?debug=1", filepath.Join(b.opts.profile, name+"-goroutines.txt"))
	}()
	return done
}
