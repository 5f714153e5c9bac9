package canary

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"vigil/internal/sim"
)

// Run runs the canary: setup, then load under the fault schedule for
// cfg.Duration (or until the first violation with StopOnViolation). The
// report says whether it passed; the error is a failure to run at all.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	t0 := time.Now()
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("canary: %w", err)
	}
	srv, err := newServer(cfg)
	if err != nil {
		return nil, err
	}
	l := newLayout(cfg.Seed, cfg.Cameras, cfg.Users)
	if err := provision(ctx, srv, l); err != nil {
		return nil, err
	}
	if err := srv.Start(ctx); err != nil {
		return nil, err
	}
	defer srv.Kill9()
	if err := checkMutant(srv, cfg.Mutant); err != nil {
		return nil, err
	}
	if err := household(ctx, srv, l); err != nil {
		return nil, err
	}
	if err := linkAll(ctx, srv, l); err != nil {
		return nil, err
	}
	px, err := newProxies(srv)
	if err != nil {
		return nil, err
	}
	defer px.close()
	rep := &Report{Seed: cfg.Seed, Nodes: cfg.Nodes, Cameras: cfg.Cameras, Users: cfg.Users, Viewers: cfg.Viewers, Shares: l.Shares(),
		Mutant: cfg.Mutant, Setup: time.Since(t0)}
	cfg.Logger.Info("canary setup done", "seed", cfg.Seed, "cameras", cfg.Cameras, "users", cfg.Users, "setup", rep.Setup)
	err = load(ctx, cfg, srv, px, l, rep)
	return rep, err
}

// checkMutant makes sure a mutant run runs a mutant binary.
func checkMutant(srv *server, name string) error {
	if name == "" {
		return nil
	}
	for range 20 {
		if lines := srv.LogLines("canary mutant planted"); len(lines) > 0 && strings.Contains(lines[0], name) {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("canary: mutant %q not planted: build vigil with -tags canarymutant", name)
}

// load runs cameras, uploads, viewers, the fault schedule and the server's
// violation counter watch, then fills the report.
func load(ctx context.Context, cfg Config, srv *server, px *proxies, l *Layout, rep *Report) error {
	secret := make([]byte, 32)
	rand.Read(secret)
	c := newChecker(l, sim.StaticKeys(secret))
	fl := newFleet(l, secret, px, cfg.FPS, cfg.Logger)
	sched := &schedule{cycle: cfg.Cycle, proxies: px, server: srv, fleet: fl, check: c, rng: newRand(uint64(cfg.Seed) + 1),
		log: cfg.Logger, count: map[string]int64{}}
	vs := &viewers{c: c, flows: append(builtinFlows(), cfg.Flows...), sched: sched, log: cfg.Logger}

	lctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	fl.start(lctx)
	fl.waitLive(lctx, 15*time.Second)
	var bg sync.WaitGroup
	bg.Go(func() { fl.uploadLoop(lctx, cfg.Seed) })
	bg.Go(func() { watchServer(lctx, srv, c) })
	g, gctx := errgroup.WithContext(lctx)
	g.Go(func() error { return sched.run(gctx) })
	g.Go(func() error { vs.run(gctx, cfg.Viewers, cfg.Seed); return nil })
	if cfg.Movers > 0 {
		w := newWorld(l, srv, fl, sched, vs, cfg.Logger)
		g.Go(func() error { w.run(gctx, cfg.Movers, cfg.Seed); return nil })
	}
	if cfg.StopOnViolation {
		go func() {
			select {
			case <-c.found:
				sleep(lctx, cfg.Linger)
				cancel()
			case <-lctx.Done():
			}
		}()
	}
	err := g.Wait()
	cancel()
	bg.Wait()
	fl.stop()
	rep.fill(c, sched, fl, srv, time.Since(c.start))
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// watchServer polls every node's vigil_isolation_violations_total and
// reports every increase as a violation caught at the server's egress check.
func watchServer(ctx context.Context, srv *server, c *checker) {
	last := make([]float64, len(srv.nodes))
	for ctx.Err() == nil {
		for i := range srv.nodes {
			v, err := srv.violations(ctx, i)
			if err != nil {
				continue
			}
			if v < last[i] { // a restarted process counts from zero
				last[i] = 0
			}
			for ; last[i] < v; last[i]++ {
				detail := "vigil_isolation_violations_total rose"
				if lines := srv.LogLines("isolation violation"); len(lines) > 0 {
					detail = lines[len(lines)-1]
				}
				c.violation(Violation{Kind: KindServer, Output: "server", Detail: detail})
			}
		}
		sleep(ctx, 200*time.Millisecond)
	}
}
