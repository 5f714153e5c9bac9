// Command vigilcanary runs Vigil's leak canary (package canary): against a
// normal build it must find zero violations; against each planted bug of a
// -tags canarymutant build it must find one, and says how fast. With -out
// it rewrites the canary section of BENCHMARKS.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "vigilcanary:", err)
		}
		os.Exit(1)
	}
}

// options are the command line.
type options struct {
	cameras, users, viewers, fps int
	nodes                        int    // more than 1: the cluster mode
	postgres                     string // the cluster's database; "" for a throwaway server
	mutCameras, mutUsers         int
	duration, cycle, mutLimit    time.Duration
	seed                         int64
	mutant                       string // one mutant only; "all" runs the clean run and every mutant
	mutantsOnly, race, verbose   bool
	out, dir, src                string
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("vigilcanary", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.cameras, "cameras", 200, "simulated cameras")
	fs.IntVar(&o.users, "users", 100, "users who own and share them")
	fs.IntVar(&o.viewers, "viewers", 0, "concurrent viewer clients (0: as many as -cameras)")
	fs.IntVar(&o.fps, "fps", 15, "camera frame rate")
	fs.IntVar(&o.nodes, "nodes", 1, "Vigil nodes; more is the cluster mode (one Postgres, NATS routes, node kills and route cuts), whose figures and planted bugs are parts of their own")
	fs.StringVar(&o.postgres, "postgres", "", "with -nodes > 1: DSN of an empty Postgres database per run (default: a throwaway server from Debian's postgresql, started per run)")
	fs.DurationVar(&o.duration, "duration", 12*time.Minute, "load duration of the clean run")
	fs.DurationVar(&o.cycle, "cycle", 0, "length of one round of the fault schedule (0: duration/10, at least 30s)")
	fs.Int64Var(&o.seed, "seed", 0, "layout and schedule seed (0: from the clock)")
	fs.StringVar(&o.mutant, "mutant", "", "run only this planted bug (see package mutant), or \"all\": the clean run, then every mutant")
	fs.BoolVar(&o.mutantsOnly, "mutants-only", false, "with -mutant all: skip the clean run")
	fs.IntVar(&o.mutCameras, "mutant-cameras", 40, "cameras of each mutant run")
	fs.IntVar(&o.mutUsers, "mutant-users", 20, "users of each mutant run")
	fs.DurationVar(&o.mutLimit, "mutant-limit", 90*time.Second, "longest a mutant run may take to be caught")
	fs.BoolVar(&o.race, "race", false, "build the clean vigil with the race detector")
	fs.BoolVar(&o.verbose, "v", false, "log the canary's phases")
	fs.StringVar(&o.out, "out", "", "rewrite the canary section of this Markdown file (BENCHMARKS.md)")
	fs.StringVar(&o.dir, "dir", "", "scratch directory (default: a temporary one, removed after)")
	fs.StringVar(&o.src, "src", ".", "the Vigil module to build vigil from")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.postgres != "" && o.mutant == "all" {
		return o, errors.New("-postgres names one empty database, for one run: not with -mutant all (leave -postgres empty for a throwaway server per run)")
	}
	if _, err := os.Stat(filepath.Join(o.src, "cmd", "vigil")); err != nil {
		return o, fmt.Errorf("-src %s is not the Vigil module: %w", o.src, err)
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	dir := o.dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "vigilcanary-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}
	log := slog.New(slog.DiscardHandler)
	if o.verbose {
		log = slog.New(slog.NewTextHandler(stderr, nil))
	}
	res, err := runAll(ctx, o, dir, log, stdout)
	if err != nil {
		return err
	}
	if o.out != "" {
		if err := writeSection(o.out, res.parts()); err != nil {
			return err
		}
	}
	if !res.ok() {
		return errors.New("canary failed: see the report")
	}
	return nil
}
