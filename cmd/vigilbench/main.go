// Command vigilbench is Vigil's load generator. It starts its own `vigil
// serve` on loopback with a temporary data directory, publishes simulated
// cameras to it, reads them back over RTSP and measures Vigil: fan-out to
// many readers, many cameras, time to first decodable frame, and the
// loopback TCP ceiling of the machine; and over HTTP, stills under load,
// time to first frame of progressive MP4 and LL-HLS, and LL-HLS
// glass-to-glass latency; WebRTC (WHEP) fan-out; and, in Chromium, click to
// first frame on the owner's web page. It writes a Markdown report.
//
//	go build -o bin/vigil ./cmd/vigil
//	go run ./cmd/vigilbench -vigil bin/vigil -out BENCHMARKS.md
//
// The generator shares the machine's cores with Vigil; the report gives the
// generator's own CPU next to Vigil's.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"vigil/internal/sim"
)

// scenarios are the scenario names of -run, in the order they run.
var scenarios = []string{"fanout", "cameras", "ttff", "slow", "stills", "httpttff", "llhls", "webrtc", "webui", "tls"}

// options are the command-line flags.
type options struct {
	vigil   string
	out     string
	clips   string
	quick   bool
	run     map[string]bool // scenarios to run
	fanout  []int
	cameras []int
	joins   int
	window  time.Duration
	warmup  time.Duration
	keep    bool

	stillRate   float64       // cached still requests per second
	stillWindow time.Duration // how long the still load runs
	freshStills int           // fresh keyframe stills measured
	httpJoins   int           // joins per HTTP output
	coldCameras int           // cameras of the HTTP joins; each gets one cold LL-HLS join
	g2g         time.Duration // LL-HLS glass-to-glass playing time

	webrtcViewers int // WHEP viewers of the WebRTC fan-out
	webuiClicks   int // clicks on the web page's camera card, per path
}

// runs reports whether scenario is selected.
func (o options) runs(scenario string) bool { return o.run[scenario] }

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("vigilbench", flag.ContinueOnError)
	fs.StringVar(&o.vigil, "vigil", "bin/vigil", "the vigil `binary` to measure")
	fs.StringVar(&o.out, "out", "BENCHMARKS.md", "write the report to `FILE`")
	fs.StringVar(&o.clips, "clips", "internal/sim/testdata/clips", "`DIR` of the test clips")
	fs.BoolVar(&o.quick, "quick", false, "a ~1 minute smoke run with small counts")
	fanout := fs.String("fanout", "", "reader counts of the fan-out steps (default 1,50,200,500; quick 1,10)")
	cameras := fs.String("cameras", "", "camera counts of the many-cameras steps (default 50,150,500; quick 5,20)")
	fs.IntVar(&o.joins, "joins", 0, "joins measured for time to first frame (default 50; quick 10)")
	fs.DurationVar(&o.window, "window", 0, "steady-state window per step (default 15s; quick 5s)")
	fs.DurationVar(&o.warmup, "warmup", 0, "settling time before each window (default 3s; quick 2s)")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory (Vigil's logs and data)")
	run := fs.String("run", "", "comma-separated `scenarios` to run (default all: "+strings.Join(scenarios, ",")+")")
	fs.Float64Var(&o.stillRate, "still-rate", 1000, "cached still requests per second")
	fs.DurationVar(&o.stillWindow, "still-window", 0, "how long the cached still load runs (default 10s; quick 5s)")
	fs.IntVar(&o.freshStills, "fresh", 0, "fresh keyframe stills measured (default 30; quick 8)")
	fs.IntVar(&o.httpJoins, "http-joins", 0, "joins measured per HTTP output (default 30; quick 10)")
	fs.IntVar(&o.coldCameras, "cold", 0, "cameras of the HTTP joins, each joined cold once over LL-HLS (default 10; quick 3)")
	fs.DurationVar(&o.g2g, "g2g", 0, "LL-HLS glass-to-glass playing time (default 20s; quick 8s)")
	fs.IntVar(&o.webrtcViewers, "webrtc-viewers", 0, "WHEP viewers of the WebRTC fan-out (default 50; quick 10)")
	fs.IntVar(&o.webuiClicks, "webui-clicks", 0, "clicks on the web page's camera card in Chromium, per path (default 30; quick 10)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	o.setDefaults()
	var err error
	if o.run, err = parseRun(*run); err != nil {
		return o, err
	}
	if o.stillRate <= 0 {
		return o, fmt.Errorf("-still-rate must be positive")
	}
	var err1, err2 error
	if *fanout != "" {
		o.fanout, err1 = parseCounts(*fanout)
	}
	if *cameras != "" {
		o.cameras, err2 = parseCounts(*cameras)
	}
	if err1 != nil || err2 != nil {
		return o, fmt.Errorf("bad count list: %v %v", err1, err2)
	}
	return o, nil
}

func (o *options) setDefaults() {
	o.fanout, o.cameras = []int{1, 50, 200, 500}, []int{50, 150, 500}
	joins, window, warmup := 50, 15*time.Second, 3*time.Second
	if o.quick {
		o.fanout, o.cameras = []int{1, 10}, []int{5, 20}
		joins, window, warmup = 10, 5*time.Second, 2*time.Second
	}
	o.joins = cmpOr(o.joins, joins)
	o.window = cmpOr(o.window, window)
	o.warmup = cmpOr(o.warmup, warmup)
	stillWindow, fresh, httpJoins, cold, g2g := 10*time.Second, 30, 30, 10, 20*time.Second
	if o.quick {
		stillWindow, fresh, httpJoins, cold, g2g = 5*time.Second, 8, 10, 3, 8*time.Second
	}
	o.stillWindow = cmpOr(o.stillWindow, stillWindow)
	o.freshStills = cmpOr(o.freshStills, fresh)
	o.httpJoins = cmpOr(o.httpJoins, httpJoins)
	o.coldCameras = cmpOr(o.coldCameras, cold)
	o.g2g = cmpOr(o.g2g, g2g)
	viewers, clicks := 50, 30
	if o.quick {
		viewers, clicks = 10, 10
	}
	o.webrtcViewers = cmpOr(o.webrtcViewers, viewers)
	o.webuiClicks = cmpOr(o.webuiClicks, clicks)
}

// parseRun parses -run; empty selects every scenario.
func parseRun(s string) (map[string]bool, error) {
	run := map[string]bool{}
	if s == "" {
		for _, name := range scenarios {
			run[name] = true
		}
		return run, nil
	}
	for f := range strings.SplitSeq(s, ",") {
		name := strings.TrimSpace(f)
		if !slices.Contains(scenarios, name) {
			return nil, fmt.Errorf("-run: unknown scenario %q (have %s)", name, strings.Join(scenarios, ","))
		}
		run[name] = true
	}
	return run, nil
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// parseCounts parses "1,50,200" into increasing positive counts.
func parseCounts(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || (len(out) > 0 && n <= out[len(out)-1]) {
			return nil, fmt.Errorf("%q: want increasing positive integers", s)
		}
		out = append(out, n)
	}
	return out, nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(os.Stderr, "vigilbench: %v\n", err)
		}
		os.Exit(2)
	}
	if err := run(ctx, o); err != nil {
		log.Fatalf("vigilbench: %v", err)
	}
}

// bench is what every scenario shares.
type bench struct {
	opts   options
	tmp    string
	data   string
	devs   []device
	secret []byte       // stamp secret of the simulated cameras
	big    clip         // the 1080p ~4 Mbit/s clip
	small  clip         // the ~0.5 Mbit/s clip
	gop1s  clip         // the 1080p clip with a 1 s GOP, for fresh stills
	logs   []string     // names of the Vigil processes started, in order
	simLog *slog.Logger // the simulated cameras' warnings, to sim.log
}

func run(ctx context.Context, o options) error {
	start := time.Now()
	tmp, err := os.MkdirTemp("", "vigilbench-")
	if err != nil {
		return err
	}
	if o.keep {
		log.Printf("keeping %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	rep := report{opts: o, started: start, machine: readMachine(), args: os.Args[1:]}
	log.Printf("loopback TCP ceiling (3 s)")
	if rep.ceilingGbps, err = loopbackCeiling(ctx, 3*time.Second); err != nil {
		return err
	}
	b, err := newBench(ctx, o, tmp)
	if err != nil {
		return err
	}
	rep.big, rep.small = b.big, b.small
	b.runAll(ctx, &rep)
	for _, name := range append(b.logs, "sim") {
		l := logSummary{name: name}
		l.warn, l.errors, l.other, l.sample = logLevels(filepath.Join(tmp, name+".log"))
		rep.logs = append(rep.logs, l)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	rep.elapsed = time.Since(start)
	if err := os.WriteFile(o.out, []byte(rep.markdown()+keptSection(o.out, "alexa")+keptSection(o.out, "canary")), 0o644); err != nil {
		return err
	}
	log.Printf("wrote %s after %s", o.out, rep.elapsed.Round(time.Second))
	return nil
}

func newBench(ctx context.Context, o options, tmp string) (*bench, error) {
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
	if o.runs("stills") {
		log.Printf("encoding a 1080p clip with a 1 s GOP")
		if b.gop1s, err = gop1sClip(ctx, tmp); err != nil {
			return nil, err
		}
	}
	n := o.devices()
	log.Printf("provisioning %d cameras", n)
	if b.devs, err = provision(ctx, o.vigil, b.data, n); err != nil {
		return nil, err
	}
	return b, nil
}

// devices is how many cameras the selected scenarios need.
func (o options) devices() int {
	n := 2 // fan-out, TTFF and slow use the first; stills the first two
	if o.runs("cameras") {
		n = max(n, 1+o.cameras[len(o.cameras)-1])
	}
	if o.runs("httpttff") {
		n = max(n, o.coldCameras)
	}
	return n
}

// runAll runs every selected scenario; a scenario that fails is reported
// with the steps it finished, and the others still run.
func (b *bench) runAll(ctx context.Context, rep *report) {
	o := b.opts
	steps := []struct {
		name, label, note string
		run               func() error
	}{
		{"fanout", "fan-out", fmt.Sprintf("%v readers", o.fanout), func() (err error) {
			rep.fanout, err = b.runFanout(ctx)
			return err
		}},
		{"cameras", "many cameras", fmt.Sprint(o.cameras), func() (err error) {
			rep.cameras, err = b.runCameras(ctx)
			return err
		}},
		{"ttff", "time to first frame", fmt.Sprintf("%d joins", o.joins), func() (err error) {
			rep.ttff, err = b.runTTFF(ctx)
			return err
		}},
		{"slow", "slow reader", "", func() error {
			slow, err := b.runSlow(ctx)
			if err == nil {
				rep.slow = &slow
			}
			return err
		}},
		{"stills", "stills", "", func() error {
			res, err := b.runStills(ctx)
			rep.stills = &res
			return err
		}},
		{"httpttff", "HTTP time to first frame", fmt.Sprintf("%d joins per output, %d cameras", o.httpJoins, o.coldCameras), func() error {
			res, err := b.runHTTPTTFF(ctx)
			rep.httpTTFF = &res
			return err
		}},
		{"llhls", "LL-HLS glass-to-glass", o.g2g.String(), func() error {
			res, err := b.runLLHLS(ctx)
			rep.g2g = &res
			return err
		}},
		{"webrtc", "WebRTC fan-out", fmt.Sprintf("%d WHEP viewers", o.webrtcViewers), func() error {
			res, err := b.runWebRTC(ctx)
			rep.webrtc = &res
			return err
		}},
		{"tls", "TLS costs", fmt.Sprintf("%d readers plain and over RTSPS, HTTPS stills", tlsReaders), func() error {
			res, err := b.runTLS(ctx)
			rep.tls = &res
			return err
		}},
		{"webui", "web page click to first frame", fmt.Sprintf("%d clicks per path in Chromium", o.webuiClicks), func() error {
			res, err := b.runWebUI(ctx)
			rep.webui = &res
			return err
		}},
	}
	for _, s := range steps {
		if !o.runs(s.name) || ctx.Err() != nil {
			continue
		}
		log.Print(strings.TrimSuffix(s.label+": "+s.note, ": "))
		if err := s.run(); err != nil {
			rep.fail(s.label, err)
		}
	}
}

// startVigil runs a fresh Vigil process on the bench's data directory,
// with env (VIGIL_*=value) added to its environment.
func (b *bench) startVigil(ctx context.Context, name string, env ...string) (*vigil, error) {
	b.logs = append(b.logs, name)
	return startVigil(ctx, b.opts.vigil, b.data, filepath.Join(b.tmp, name+".log"), env...)
}

// camera returns a simulated camera publishing c as d to v.
func (b *bench) camera(v *vigil, d device, c clip) *sim.Camera {
	return &sim.Camera{URL: v.pushURL(d), ID: d.ID, Key: sim.CameraKey(b.secret, d.ID), FPS: c.fps, Clip: c.units, Logger: b.simLog}
}

// liveBig starts a Vigil named name (with env added), publishes the 1080p
// clip from the first camera and waits until it is live; stop ends both.
func (b *bench) liveBig(ctx context.Context, name string, env ...string) (*vigil, device, func(), error) {
	d := b.devs[0]
	v, err := b.startVigil(ctx, name, env...)
	if err != nil {
		return nil, d, nil, err
	}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { b.camera(v, d, b.big).Run(cctx); close(done) }()
	stop := func() { cancel(); <-done; v.stop() }
	if err := waitLive(ctx, v.readURL(d)); err != nil {
		stop()
		return nil, d, nil, err
	}
	return v, d, stop, nil
}

// keptSection returns the section of the file at path between the name's
// markers — the leak canary's (written by vigilcanary), the Echo Show
// figures (measured by internal/app's TestEchoShowEndToEnd) — so that a
// new benchmark report keeps it.
func keptSection(path, name string) string {
	begin, end := "<!-- "+name+":begin -->", "<!-- "+name+":end -->"
	old, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	s := string(old)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		return ""
	}
	return "\n" + s[i:j+len(end)] + "\n"
}
