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

// measure samples the server v, this process and the readers over d.
func measure(ctx context.Context, v measured, rs []*reader, d time.Duration) (measurement, error) {
	s0, serr0 := v.scrape(ctx)
	p0, err := sampleProc(v.PID())
	if err != nil {
		return measurement{}, fmt.Errorf("server process: %w", err)
	}
	b0, _ := sampleProc(os.Getpid())
	busy0, steal0 := machineBusy()
	t0 := tally(rs)
	if !sleep(ctx, d) {
		return measurement{}, ctx.Err()
	}
	t1 := tally(rs)
	p1, err := sampleProc(v.PID())
	if err != nil {
		return measurement{}, fmt.Errorf("server process: %w", err)
	}
	b1, _ := sampleProc(os.Getpid())
	busy1, steal1 := machineBusy()
	s1, serr1 := v.scrape(ctx)
	m := measurement{rw: window(rs, t0, t1), vigil: usageBetween(p0, p1), bench: usageBetween(b0, b1)}
	secs := p1.at.Sub(p0.at).Seconds()
	m.skips, m.allocMBps, m.gcPerSec, m.cacheMiB, m.ingestMbps = math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN()
	if serr0 == nil && serr1 == nil {
		m.skips = s1[metricSkips] - s0[metricSkips]
		m.allocMBps = (s1[metricAlloc] - s0[metricAlloc]) / secs / (1 << 20)
		m.gcPerSec = (s1[metricGCs] - s0[metricGCs]) / secs
		m.cacheMiB = s1[metricGOP] / (1 << 20)
		m.ingestMbps = (s1[metricIn] - s0[metricIn]) * 8 / secs / 1e6
	}
	m.otherCPU = 100*float64(busy1-busy0)/clockTicks/secs - m.vigil.cpuPct - m.bench.cpuPct
	m.steal = 100 * float64(steal1-steal0) / clockTicks / secs
	return m, nil
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
