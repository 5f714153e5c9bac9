package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"slices"
	"strings"
	"time"

	"vigil/internal/vigilproc"
)

// Peer figures from the issue: go2rtc and MediaMTX with 200 readers.
const (
	peerGo2rtcFanoutCPU   = 9.5   // % of a core
	peerMediaMTXFanoutCPU = 52.0  // % of a core
	peerFanoutMbps        = 813.0 // delivered
)

// fanout is one 1080p camera read by more and more RTSP readers.
type fanout struct {
	oneCamera
	steps []int // reader counts
	rows  []fanoutRow
}

// fanoutRow is one step: one 1080p camera, n readers.
type fanoutRow struct {
	measurement
	idealMbps  float64 // camera rate × readers
	reconnects uint64  // camera sessions that failed and were retried, this step
}

func (f *fanout) flags(fs *flag.FlagSet) {
	countsVar(fs, &f.steps, "fanout", "reader counts of the fan-out steps (default 1,50,200,500; quick 1,10)")
}

func (f *fanout) setDefaults(quick bool) error {
	if f.steps == nil {
		f.steps = quickOr(quick, []int{1, 10}, []int{1, 50, 200, 500})
	}
	return nil
}

// run publishes the 1080p clip from one camera and adds readers step by
// step, keeping the earlier ones, measuring a window at each step.
func (f *fanout) run(ctx context.Context, b *bench) error {
	log.Printf("  %v readers", f.steps)
	v, err := b.startVigil(ctx, "fanout", vigilproc.Config{})
	if err != nil {
		return err
	}
	defer v.Stop()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cam := b.camera(v, b.devs[0], b.big)
	go cam.Run(cctx)

	var rs []*reader
	defer func() { closeAll(rs) }()
	for _, n := range f.steps {
		since, reconnects0 := time.Now(), cam.Reconnects()
		more, err := dialAll(ctx, slices.Repeat([]string{v.readURL(b.devs[0])}, n-len(rs)))
		if err != nil {
			return err
		}
		rs = append(rs, more...)
		missing := settle(ctx, rs, since, b.opts.warmup)
		m, err := measure(ctx, v, rs, b.opts.window)
		if err != nil {
			return err
		}
		m.missing = missing
		f.rows = append(f.rows, fanoutRow{measurement: m, idealMbps: b.big.mbps * float64(n),
			reconnects: cam.Reconnects() - reconnects0})
		log.Printf("  %s camera_reconnects=%d", m.summary(), f.rows[len(f.rows)-1].reconnects)
	}
	return nil
}

func (f *fanout) section(b *strings.Builder, r *report) {
	b.WriteString("## Fan-out: one 1080p camera to N readers\n\n")
	b.WriteString("| readers | delivered Mbit/s | % of ideal | % of ceiling | fps/reader | Vigil CPU % | CPU %/Gbit/s | Vigil RSS MiB | skips | stalls (readers) | lost pkts | camera reconnects | writes/s | bytes/write | alloc MiB/s | GC/s | generator CPU % | other CPU % |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	var rowNote []string
	for _, row := range f.rows {
		m := row.measurement
		fmt.Fprintf(b, "| %d | %.1f | %.0f | %.1f | %.1f | %.1f | %s | %.0f | %s | %d (%d) | %d | %d | %s | %s | %s | %s | %.0f | %.0f |\n",
			m.rw.readers, m.rw.mbps, pct(m.rw.mbps, row.idealMbps), pct(m.rw.mbps, r.ceilingGbps*1000),
			m.rw.fpsPerReader, m.vigil.cpuPct, perGbit(m.vigil.cpuPct, m.rw.mbps), m.vigil.rssMiB,
			num(m.skips, 0), m.rw.stalls, m.rw.stalledReaders, m.rw.lost, row.reconnects,
			num(m.vigil.writesPerSec, 0), num(m.vigil.bytesPerWrite, 0), num(m.allocMBps, 0), num(m.gcPerSec, 1),
			m.bench.cpuPct, max(0, m.otherCPU))
		rowNote = append(rowNote, rowNotes(fmt.Sprintf("%d readers", m.rw.readers), m)...)
	}
	notes(b, rowNote)
}

func (f *fanout) targets(b *strings.Builder, _ *report) {
	i := slices.IndexFunc(f.rows, func(row fanoutRow) bool { return row.rw.readers == 200 })
	if i < 0 {
		b.WriteString("- **Fan-out, 200 readers**: not run at 200 readers.\n")
		return
	}
	row := f.rows[i]
	m := row.measurement
	go2rtc := peerGo2rtcFanoutCPU / peerFanoutMbps * 1000
	mtx := peerMediaMTXFanoutCPU / peerFanoutMbps * 1000
	mine := m.vigil.cpuPct / m.rw.mbps * 1000
	fmt.Fprintf(b, "- **Fan-out, 200 readers of a 4 Mbit/s camera, zero stalls**: %s — %d stalls, %s skips, %d lost packets, %.0f Mbit/s delivered.\n"+
		"- **CPU per delivered Mbit ≤ go2rtc's**: %s — Vigil %.1f%% of a core for %.0f Mbit/s = %.1f%% per Gbit/s; go2rtc %.1f%% per Gbit/s (9.5%% for 813 Mbit/s), MediaMTX %.1f%% per Gbit/s (52%%). Vigil's figure is under contention with the generator (%.0f%% CPU).\n",
		verdict(m.rw.stalls == 0 && m.rw.ended == 0 && row.reconnects == 0), m.rw.stalls, num(m.skips, 0), m.rw.lost, m.rw.mbps,
		verdict(mine <= go2rtc), m.vigil.cpuPct, m.rw.mbps, mine, go2rtc, mtx, m.bench.cpuPct)
}

// summary is a one-line progress note.
func (m measurement) summary() string {
	return fmt.Sprintf("readers=%d delivered=%.0f Mbit/s fps/reader=%.1f vigil_cpu=%.0f%% rss=%.0f MiB skips=%.0f stalls=%d lost=%d bench_cpu=%.0f%% other_cpu=%.0f%% steal=%.0f%%",
		m.rw.readers, m.rw.mbps, m.rw.fpsPerReader, m.vigil.cpuPct, m.vigil.rssMiB, m.skips, m.rw.stalls, m.rw.lost, m.bench.cpuPct, m.otherCPU, m.steal)
}
