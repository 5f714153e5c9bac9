package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"vigil/internal/loopback"
)

// failoverTarget is the aim for a camera's failover after its
// home node is killed.
const failoverTarget = 15 * time.Second

// failover runs three nodes on one Postgres, cameras spread over them
// through a TCP load balancer, and kills one node with SIGKILL: each
// camera it was home to reconnects through the balancer to another node,
// and a viewer on a third node times its first frame again.
type failover struct {
	n      int             // cameras, spread over the nodes
	homed  int             // cameras homed on the killed node
	times  []time.Duration // per camera of the killed node: kill to a viewer's first frame again
	failed int
	// Joins on node 2 of the cameras homed on node 1, before the kill:
	// cold (the first viewer there: the feed starts, with the GOP
	// bootstrap), then warm (the feed runs).
	cold, warm []join
	// revoked: unshares through node 1 of a camera homed on node 1, each
	// timed until node 2 ended the share's RTSP view.
	revoked []time.Duration
	nRevoke int
	elapsed time.Duration // of the whole scenario
}

func (f *failover) flags(fs *flag.FlagSet) {
	fs.IntVar(&f.n, "failover-cameras", 0, "cameras spread over the three nodes of the failover scenario (default 30; quick 6)")
	fs.IntVar(&f.nRevoke, "failover-revocations", 0, "unshares through one node timed until another ends the view (default 50; quick 10)")
}

func (f *failover) setDefaults(quick bool) error {
	f.n = cmp.Or(f.n, quickOr(quick, 6, 30))
	f.nRevoke = cmp.Or(f.nRevoke, quickOr(quick, 10, 50))
	if f.n < 3 {
		return errors.New("-failover-cameras must be at least 3")
	}
	return nil
}

// cameras is 0: the scenario provisions its own, in its cluster's Postgres.
func (f *failover) cameras() int { return 0 }

func (f *failover) run(ctx context.Context, b *bench) error {
	began := time.Now()
	defer func() { f.elapsed = time.Since(began) }()
	c, err := startCluster(ctx, b, "failover", 3)
	defer c.stop()
	if err != nil {
		return err
	}
	nodes := c.nodes
	devs, err := c.addDevices(ctx, "failover", f.n)
	if err != nil {
		return err
	}
	// Balancer i sends to node i while it is up, else to the next one up:
	// camera j lands on node j%3 and moves on when it dies.
	var lbs []*balancer
	for i := range nodes {
		var backends []string
		for k := range nodes {
			backends = append(backends, nodes[(i+k)%len(nodes)].RTSP())
		}
		lb, err := newBalancer(backends)
		if err != nil {
			return err
		}
		defer lb.close()
		lbs = append(lbs, lb)
	}
	cctx, stopCams := context.WithCancel(ctx)
	var cams sync.WaitGroup
	defer func() { stopCams(); cams.Wait() }()
	for j, d := range devs {
		v := &vigil{nodes[0].Proc}
		cam := b.camera(v, d, b.small)
		cam.URL = strings.Replace(cam.URL, nodes[0].RTSP(), lbs[j%len(lbs)].addr(), 1)
		cams.Go(func() { cam.Run(cctx) })
	}
	// Viewers on node 2 of the cameras homed on node 0.
	viewer := nodes[2]
	var watched []device
	for j := 0; j < len(devs); j += len(nodes) {
		watched = append(watched, devs[j])
	}
	f.homed = len(watched)
	readers := make([]*reader, len(watched))
	for i, d := range watched {
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		readers[i], err = dialReader(wctx, viewer.readURL(d), nil)
		cancel()
		if err != nil {
			return err
		}
	}
	if !sleep(ctx, 2*time.Second) {
		return ctx.Err()
	}
	for j := 1; j < len(devs); j += len(nodes) {
		url := viewer.readURL(devs[j])
		f.cold = append(f.cold, timeJoin(url))
		f.warm = append(f.warm, timeJoin(url))
	}
	log.Printf("  %d revocations through node 1 of views on node 2", f.nRevoke)
	if f.revoked, err = revocations(ctx, nodes[1], viewer, devs[1], f.nRevoke); err != nil {
		return err
	}
	for i, r := range readers {
		if r.frames.Load() == 0 {
			return fmt.Errorf("viewer of %s on node 2: no frame before the kill", watched[i].ID)
		}
	}
	log.Printf("  killing node 0, home of %d of %d cameras", len(watched), len(devs))
	killed := time.Now()
	nodes[0].Kill9()
	nodes[0] = nil
	times := make([]time.Duration, len(watched))
	var wg sync.WaitGroup
	for i, d := range watched {
		wg.Go(func() { times[i] = frameAgain(ctx, readers[i], viewer.readURL(d), killed) })
	}
	wg.Wait()
	for _, t := range times {
		if t < 0 {
			f.failed++
			continue
		}
		f.times = append(f.times, t)
	}
	return nil
}

// frameAgain waits for the old reader to end (its camera's feed ends at
// the new session's first unit, or after 5 s of silence), reads the
// camera again and returns the time from killed to its first frame, or -1
// if none came within a minute.
func frameAgain(ctx context.Context, old *reader, url string, killed time.Time) time.Duration {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	r, frames := old, old.frames.Load()
	defer func() { r.close() }()
	for ctx.Err() == nil {
		if r.frames.Load() > frames {
			return time.Since(killed)
		}
		if r.ended.Load() {
			r.close()
			nr, err := dialReader(ctx, url, nil)
			if err != nil {
				return -1
			}
			r, frames = nr, 0
		}
		time.Sleep(5 * time.Millisecond)
	}
	return -1
}

// balancer is a TCP load balancer in front of the nodes' RTSP ports: each
// connection goes to the first backend that accepts it.
type balancer struct {
	l        net.Listener
	backends []string
	wg       sync.WaitGroup
}

func newBalancer(backends []string) (*balancer, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	lb := &balancer{l: l, backends: backends}
	lb.wg.Go(func() { loopback.Balance(l, func() []string { return backends }) })
	return lb, nil
}

func (lb *balancer) addr() string { return lb.l.Addr().String() }

func (lb *balancer) close() {
	lb.l.Close()
	lb.wg.Wait()
}

func (f *failover) section(w *strings.Builder, _ *report) {
	w.WriteString("## Cluster failover\n\n")
	fmt.Fprintf(w, "Three nodes on one Postgres, embedded NATS routed to each other (claims bucket R3), %d cameras (the small clip) "+
		"spread over them through a loopback TCP load balancer (camera j's balancer prefers node j mod 3). Node 0 is killed with "+
		"SIGKILL; its %d cameras reconnect through the balancer to node 1, and a viewer of each on node 2 — which homes "+
		"none of them — reads it again. Timed from the kill to the viewer's first frame again (the camera's reconnect, its claim, "+
		"the viewer's feed ending at the new session or after 5 s of silence, its new DESCRIBE, the GOP bootstrap).\n\n", f.n, f.homed)
	s := f.stats()
	fmt.Fprintf(w, "Before the kill, each camera homed on node 1 is joined over RTSP on node 2, timed as in the TTFF section: "+
		"cold (the first viewer there, so the feed starts: subscription, GOP bootstrap from node 1), then warm (the feed runs).\n\n")
	w.WriteString("| join on a non-home node | joins | failed | TTFF p50 | p95 | max | first unit a keyframe |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, row := range []struct {
		name  string
		joins []join
	}{{"cold (feed starts)", f.cold}, {"warm (feed running)", f.warm}} {
		js := rtspJoinStats(row.joins)
		fmt.Fprintf(w, "| %s | %d | %d | %s | %s | %s | %d/%d |\n", row.name, len(row.joins), js.failed, ms(js.p50), ms(js.p95), ms(js.max),
			len(row.joins)-js.failed-js.notKey, len(row.joins)-js.failed)
	}
	w.WriteString("\n")
	fmt.Fprintf(w, "Then a user claims a camera homed on node 1 through node 1 and, %d times, shares it with another user, who plays it over RTSP on node 2; "+
		"the share is deleted through node 1 and timed until node 2 ends the view (the revocation log's commit, its pg_notify wake-up on node 2, the grant's end).\n\n", f.nRevoke)
	w.WriteString("| revocations through node 1 | views ended on node 2 p50 | p99 | max |\n|---:|---:|---:|---:|\n")
	fmt.Fprintf(w, "| %d | %s | %s | %s |\n\n", len(f.revoked), ms(percentile(f.revoked, 50)), ms(percentile(f.revoked, 99)), ms(slices.Max(append([]time.Duration{0}, f.revoked...))))
	w.WriteString("| cameras on the killed node | viewers back | failover p50 | p95 | max | scenario wall time |\n|---:|---:|---:|---:|---:|---:|\n")
	fmt.Fprintf(w, "| %d | %d | %s | %s | %s | %s |\n\n", f.homed, len(f.times), ms(s.p50), ms(s.p95), ms(s.max), f.elapsed.Round(time.Second))
}

func (f *failover) targets(w *strings.Builder, _ *report) {
	s := f.stats()
	cold := rtspJoinStats(f.cold)
	fmt.Fprintf(w, "- **TTFF p95 < 150 ms on a node that does not home the camera (GOP bootstrap included)**: %s — cold p50 %s, p95 %s over %d joins.\n",
		verdict(cold.failed == 0 && cold.notKey == 0 && len(f.cold) > 0 && cold.p95 < 150*time.Millisecond), ms(cold.p50), ms(cold.p95), len(f.cold))
	fmt.Fprintf(w, "- **A revocation through one node ends live views on another, p99 < 1 s**: %s — p99 %s over %d revocations.\n",
		verdict(len(f.revoked) >= f.nRevoke && percentile(f.revoked, 99) < revokeTarget), ms(percentile(f.revoked, 99)), len(f.revoked))
	fmt.Fprintf(w, "- **Camera failover p95 < 15 s after a node kill**: %s — p95 %s over %d cameras (%d never came back).\n",
		verdict(f.failed == 0 && len(f.times) > 0 && s.p95 < failoverTarget), ms(s.p95), f.homed, f.failed)
}

type failoverStats struct{ p50, p95, max time.Duration }

func (f *failover) stats() failoverStats {
	s := failoverStats{p50: percentile(f.times, 50), p95: percentile(f.times, 95)}
	for _, t := range f.times {
		s.max = max(s.max, t)
	}
	return s
}
