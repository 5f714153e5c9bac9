package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"time"
)

// measurement is one steady-state window of a scenario step.
type measurement struct {
	rw    readerWindow
	vigil usage   // the server process: Vigil, or go2rtc in its rows
	bench usage   // this process (cameras and readers)
	skips float64 // delta of vigil_reader_skips_total; NaN if unreadable
	// allocMBps and gcPerSec are Vigil's heap allocation rate and GC
	// cycles per second, from the Go collector; NaN if unreadable.
	allocMBps, gcPerSec float64
	// gcCPU is the runtime's estimate of its collector's CPU, % of one
	// core; NaN if unreadable (a Vigil that does not export it).
	gcCPU float64
	// cacheMiB is what Vigil's GOP caches hold at the window's end
	// (vigil_gop_cache_bytes summed); NaN if unreadable.
	cacheMiB float64
	// ingestMbps is the cameras' payload rate into Vigil
	// (vigil_ingest_bytes_total); NaN if unreadable.
	ingestMbps float64
	// otherCPU is the machine's busy CPU (% of one core) not spent by
	// Vigil or the generator: other processes on the machine. steal is
	// the hypervisor's steal time, likewise.
	otherCPU, steal float64
	// missing is how many readers had no frame when the window started.
	missing int
	// bus is the server's bus traffic, when it is a cluster node.
	bus busRates
	// also is the other servers sampled in the same window (a cluster's
	// other nodes), in the order measure was given them.
	also []serverWindow
}

// settle waits for every reader to get a frame (up to 15 s), then lets the
// GOP replay bursts of new readers pass.
func settle(ctx context.Context, rs []*reader, since time.Time, warmup time.Duration) int {
	missing := waitFrames(ctx, rs, since, 15*time.Second)
	sleep(ctx, warmup)
	return missing
}

// measured is the server a window measures: Vigil, or a peer (go2rtc)
// beside it, whose scrape fails.
type measured interface {
	PID() int
	scrape(ctx context.Context) (map[string]float64, error)
}

var _ measured = (*vigil)(nil)

// measure samples the server v, this process and the readers over d, and
// the servers also (a cluster's other nodes) in the same window.
func measure(ctx context.Context, v measured, rs []*reader, d time.Duration, also ...measured) (measurement, error) {
	servers := append([]measured{v}, also...)
	s0, err := sampleServers(ctx, servers, false)
	if err != nil {
		return measurement{}, err
	}
	b0, _ := sampleProc(os.Getpid())
	busy0, steal0 := machineBusy()
	t0 := tally(rs)
	if !sleep(ctx, d) {
		return measurement{}, ctx.Err()
	}
	t1 := tally(rs)
	s1, err := sampleServers(ctx, servers, true)
	if err != nil {
		return measurement{}, err
	}
	b1, _ := sampleProc(os.Getpid())
	busy1, steal1 := machineBusy()
	m := measurement{rw: window(rs, t0, t1), bench: usageBetween(b0, b1)}
	serversCPU := 0.0
	for i := range servers {
		w := s0[i].until(s1[i])
		serversCPU += w.cpuPct
		if i == 0 {
			m.vigil, m.bus = w.usage, w.bus
		} else {
			m.also = append(m.also, w)
		}
	}
	first, last := s0[0], s1[0]
	secs := last.proc.at.Sub(first.proc.at).Seconds()
	m.skips, m.allocMBps, m.gcPerSec, m.cacheMiB, m.ingestMbps = math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN()
	m.gcCPU = math.NaN()
	if first.metrics != nil && last.metrics != nil {
		m.skips = last.metrics[metricSkips] - first.metrics[metricSkips]
		m.allocMBps = (last.metrics[metricAlloc] - first.metrics[metricAlloc]) / secs / (1 << 20)
		m.gcPerSec = (last.metrics[metricGCs] - first.metrics[metricGCs]) / secs
		if _, ok := last.metrics[metricGCCPU]; ok {
			m.gcCPU = 100 * (last.metrics[metricGCCPU] - first.metrics[metricGCCPU]) / secs
		}
		m.cacheMiB = last.metrics[metricGOP] / (1 << 20)
		m.ingestMbps = (last.metrics[metricIn] - first.metrics[metricIn]) * 8 / secs / 1e6
	}
	m.otherCPU = 100*float64(busy1-busy0)/clockTicks/secs - serversCPU - m.bench.cpuPct
	m.steal = 100 * float64(steal1-steal0) / clockTicks / secs
	return m, nil
}

// serverSample is one reading of a server: its process and its metrics
// (nil if its scrape failed: go2rtc has none).
type serverSample struct {
	proc    procSample
	metrics map[string]float64
}

// sampleServers reads each server's metrics and its process: the process
// last at a window's start and first at its end, so that the window's CPU
// leaves the scrapes out.
func sampleServers(ctx context.Context, servers []measured, end bool) ([]serverSample, error) {
	out := make([]serverSample, len(servers))
	for i, s := range servers {
		if !end {
			out[i].metrics, _ = s.scrape(ctx)
		}
		var err error
		if out[i].proc, err = sampleProc(s.PID()); err != nil {
			return nil, fmt.Errorf("server process %d: %w", s.PID(), err)
		}
		if end {
			out[i].metrics, _ = s.scrape(ctx)
		}
	}
	return out, nil
}

// busRates is a cluster node's bus traffic over a window, NaN when
// unknown (not a cluster node, or no metrics).
type busRates struct{ sentMbps, recvMbps float64 }

// serverWindow is what one server did between two samples.
type serverWindow struct {
	usage
	bus busRates
}

// until is the window from a to b.
func (a serverSample) until(b serverSample) serverWindow {
	w := serverWindow{usage: usageBetween(a.proc, b.proc), bus: busRates{math.NaN(), math.NaN()}}
	secs := b.proc.at.Sub(a.proc.at).Seconds()
	rate := func(name string) float64 {
		x, okA := a.metrics[name]
		y, okB := b.metrics[name]
		if !okA || !okB || secs <= 0 {
			return math.NaN()
		}
		return (y - x) * 8 / secs / 1e6
	}
	w.bus.sentMbps, w.bus.recvMbps = rate(metricBusSent), rate(metricBusReceived)
	return w
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
