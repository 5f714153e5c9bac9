// Command vigilbench is Vigil's load generator. It starts its own `vigil
// serve` on loopback with a temporary data directory, publishes simulated
// cameras to it, reads them back and measures Vigil, one scenario at a
// time: `vigilbench -h` lists them (the table in scenarios.go). It writes
// a Markdown report.
//
//	go build -o bin/vigil ./cmd/vigil
//	go run ./cmd/vigilbench -vigil bin/vigil -out BENCHMARKS.md
//	scripts/go2rtc.sh bin/go2rtc && go run ./cmd/vigilbench -run fanout -go2rtc bin/go2rtc -out /tmp/bench.md
//	go run ./cmd/vigilbench -quick -run ttff -out /tmp/bench.md
//
// The generator shares the machine's cores with Vigil; the report gives the
// generator's own CPU next to Vigil's.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"vigil/internal/vigilproc"
)

// options are the flags every scenario shares.
type options struct {
	vigil  string
	out    string
	clips  string
	quick  bool
	run    string // comma-separated scenario names; empty for all
	window time.Duration
	warmup time.Duration
	keep   bool
	// go2rtc is the go2rtc binary that the fan-out and many-cameras
	// steps also run through, after Vigil's; empty leaves it out.
	go2rtc string
	// profile is a directory for profiles of Vigil (the cached-still
	// loads, the many-cameras windows); empty takes none.
	profile string

	// The cached-still load, of the stills and TLS scenarios.
	stillRate   float64       // requests per second
	stillWindow time.Duration // how long it runs
}

func (o *options) flags(fs *flag.FlagSet) {
	fs.StringVar(&o.vigil, "vigil", "bin/vigil", "the vigil `binary` to measure")
	fs.StringVar(&o.out, "out", "BENCHMARKS.md", "write the report to `FILE`")
	fs.StringVar(&o.clips, "clips", "internal/sim/testdata/clips", "`DIR` of the test clips")
	fs.BoolVar(&o.quick, "quick", false, "a ~1 minute smoke run with small counts")
	fs.StringVar(&o.run, "run", "", "comma-separated `scenarios` to run (default all; listed below)")
	fs.DurationVar(&o.window, "window", 0, "steady-state window per step (default 15s; quick 5s)")
	fs.DurationVar(&o.warmup, "warmup", 0, "settling time before each window (default 3s; quick 2s)")
	fs.StringVar(&o.go2rtc, "go2rtc", "", "go2rtc `binary` (scripts/go2rtc.sh builds it) to run the fan-out's and many-cameras' steps through after Vigil's; empty leaves it out")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory (Vigil's logs and data)")
	fs.StringVar(&o.profile, "profile", "", "write profiles of Vigil into `DIR`: CPU during the cached-still loads (stills.pprof, tls-stills.pprof), CPU and heap during each many-cameras window (cameras-N-readers-R.pprof, cameras-N-readers-R-heap.pprof, with the metrics and goroutines then: -metrics.txt, -goroutines.txt)")
	fs.Float64Var(&o.stillRate, "still-rate", 1000, "cached still requests per second")
	fs.DurationVar(&o.stillWindow, "still-window", 0, "how long the cached still load runs (default 10s; quick 5s)")
}

func (o *options) setDefaults() error {
	o.window = cmp.Or(o.window, quickOr(o.quick, 5*time.Second, 15*time.Second))
	o.warmup = cmp.Or(o.warmup, quickOr(o.quick, 2*time.Second, 3*time.Second))
	o.stillWindow = cmp.Or(o.stillWindow, quickOr(o.quick, 5*time.Second, 10*time.Second))
	if o.go2rtc != "" {
		// go2rtc runs in the bench's temporary directory: a relative
		// path (the Makefile's bin/go2rtc) would not be found from there.
		abs, err := filepath.Abs(o.go2rtc)
		if err != nil {
			return err
		}
		o.go2rtc = abs
	}
	if o.stillRate <= 0 {
		return errors.New("-still-rate must be positive")
	}
	return nil
}

// parseFlags parses the shared flags and every scenario's, and returns the
// scenarios -run selects, in the table's order.
func parseFlags(args []string, stderr *os.File) (options, []entry, error) {
	var o options
	fs := flag.NewFlagSet("vigilbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o.flags(fs)
	all := scenarios()
	for _, e := range all {
		e.scenario.flags(fs)
	}
	fs.Usage = func() { printUsage(fs, all) }
	if err := fs.Parse(args); err != nil {
		return o, nil, err
	}
	if err := o.setDefaults(); err != nil {
		return o, nil, err
	}
	run, err := selectRun(all, o.run)
	if err != nil {
		return o, nil, err
	}
	for _, e := range run {
		if err := e.scenario.setDefaults(o.quick); err != nil {
			return o, nil, fmt.Errorf("%s: %w", e.name, err)
		}
	}
	return o, run, nil
}

func printUsage(fs *flag.FlagSet, all []entry) {
	fmt.Fprintf(fs.Output(), "usage: vigilbench [flags]\n\nflags:\n")
	fs.PrintDefaults()
	fmt.Fprintf(fs.Output(), "\nscenarios (-run), in the order they run:\n")
	for _, e := range all {
		fmt.Fprintf(fs.Output(), "  %-9s %s\n", e.name, e.measures)
	}
}

// quickOr is q for a quick run, else full.
func quickOr[T any](quick bool, q, full T) T {
	if quick {
		return q
	}
	return full
}

// countsVar declares a flag of increasing counts, such as -fanout 1,50,200.
func countsVar(fs *flag.FlagSet, counts *[]int, name, usage string) {
	fs.Func(name, usage, func(s string) (err error) {
		*counts, err = parseCounts(s)
		return err
	})
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
	o, run, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintf(os.Stderr, "vigilbench: %v\n", err)
		os.Exit(2)
	}
	if err := benchmark(ctx, o, run); err != nil {
		log.Fatalf("vigilbench: %v", err)
	}
}

// benchmark runs the scenarios and writes the report.
func benchmark(ctx context.Context, o options, run []entry) error {
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
	b, err := newBench(ctx, o, tmp, camerasNeeded(run))
	if err != nil {
		return err
	}
	rep.big, rep.small = b.big, b.small
	rep.ran = b.runAll(ctx, run, &rep)
	for _, name := range append(b.logs, "sim") {
		rep.logs = append(rep.logs, logSummary{name: name, Levels: vigilproc.ReadLevels(filepath.Join(tmp, name+".log"))})
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
