package main

import (
	"context"
	"fmt"
	"log"
	"slices"
	"time"
)

// fanoutRow is one step of the fan-out scenario: one 1080p camera, n readers.
type fanoutRow struct {
	measurement
	idealMbps  float64 // camera rate × readers
	reconnects uint64  // camera sessions that failed and were retried, this step
}

// runFanout publishes the 1080p clip from one camera and adds readers step
// by step, keeping the earlier ones, measuring a window at each step.
func (b *bench) runFanout(ctx context.Context) ([]fanoutRow, error) {
	v, err := b.startVigil(ctx, "fanout")
	if err != nil {
		return nil, err
	}
	defer v.stop()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cam := b.camera(v, b.devs[0], b.big)
	go cam.Run(cctx)

	var rs []*reader
	defer func() { closeAll(rs) }()
	var rows []fanoutRow
	for _, n := range b.opts.fanout {
		since, reconnects0 := time.Now(), cam.Reconnects()
		more, err := dialAll(ctx, slices.Repeat([]string{v.readURL(b.devs[0])}, n-len(rs)))
		if err != nil {
			return rows, err
		}
		rs = append(rs, more...)
		missing := settle(ctx, rs, since, b.opts.warmup)
		m, err := measure(ctx, v, rs, b.opts.window)
		if err != nil {
			return rows, err
		}
		m.missing = missing
		rows = append(rows, fanoutRow{measurement: m, idealMbps: b.big.mbps * float64(n),
			reconnects: cam.Reconnects() - reconnects0})
		log.Printf("  %s camera_reconnects=%d", m.summary(), rows[len(rows)-1].reconnects)
	}
	return rows, nil
}

// summary is a one-line progress note.
func (m measurement) summary() string {
	return fmt.Sprintf("readers=%d delivered=%.0f Mbit/s fps/reader=%.1f vigil_cpu=%.0f%% rss=%.0f MiB skips=%.0f stalls=%d lost=%d bench_cpu=%.0f%% other_cpu=%.0f%% steal=%.0f%%",
		m.rw.readers, m.rw.mbps, m.rw.fpsPerReader, m.vigil.cpuPct, m.vigil.rssMiB, m.skips, m.rw.stalls, m.rw.lost, m.bench.cpuPct, m.otherCPU, m.steal)
}
