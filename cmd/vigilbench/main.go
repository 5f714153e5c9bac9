// Command vigilbench is Vigil's load generator. It starts its own `vigil
// serve` on loopback with a temporary data directory, publishes simulated
// cameras to it, reads them back over RTSP and measures Vigil: fan-out to
// many readers, many cameras, time to first decodable frame, and the
// loopback TCP ceiling of the machine. It writes a Markdown report.
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
	"flag"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"vigil/internal/sim"
)

// options are the command-line flags.
type options struct {
	vigil   string
	out     string
	clips   string
	quick   bool
	fanout  []int
	cameras []int
	joins   int
	window  time.Duration
	warmup  time.Duration
	keep    bool
}

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
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	o.setDefaults()
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
	if err := os.WriteFile(o.out, []byte(rep.markdown()), 0o644); err != nil {
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
	n := 1 + o.cameras[len(o.cameras)-1]
	log.Printf("provisioning %d cameras", n)
	if b.devs, err = provision(ctx, o.vigil, b.data, n); err != nil {
		return nil, err
	}
	return b, nil
}

// runAll runs every scenario; a scenario that fails is reported with the
// steps it finished, and the others still run.
func (b *bench) runAll(ctx context.Context, rep *report) {
	var err error
	log.Printf("fan-out: %v readers", b.opts.fanout)
	if rep.fanout, err = b.runFanout(ctx); err != nil {
		rep.fail("fan-out", err)
	}
	log.Printf("many cameras: %v", b.opts.cameras)
	if rep.cameras, err = b.runCameras(ctx); err != nil {
		rep.fail("many cameras", err)
	}
	log.Printf("time to first frame: %d joins", b.opts.joins)
	if rep.ttff, err = b.runTTFF(ctx); err != nil {
		rep.fail("time to first frame", err)
	}
	log.Printf("slow reader")
	if slow, err := b.runSlow(ctx); err != nil {
		rep.fail("slow reader", err)
	} else {
		rep.slow = &slow
	}
}

// startVigil runs a fresh Vigil process on the bench's data directory.
func (b *bench) startVigil(ctx context.Context, name string) (*vigil, error) {
	b.logs = append(b.logs, name)
	return startVigil(ctx, b.opts.vigil, b.data, filepath.Join(b.tmp, name+".log"))
}

// camera returns a simulated camera publishing c as d to v.
func (b *bench) camera(v *vigil, d device, c clip) *sim.Camera {
	return &sim.Camera{URL: v.pushURL(d), ID: d.ID, Key: sim.CameraKey(b.secret, d.ID), FPS: c.fps, Clip: c.units, Logger: b.simLog}
}
