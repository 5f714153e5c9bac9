package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"slices"
	"strings"
	"time"

	"vigil/internal/sim"
	"vigil/internal/vigilproc"
)

// Peer figures from the issue: go2rtc and MediaMTX with 200 readers.
const (
	peerGo2rtcFanoutCPU   = 9.5   // % of a core
	peerMediaMTXFanoutCPU = 52.0  // % of a core
	peerFanoutMbps        = 813.0 // delivered
)

// fanout is one 1080p camera read by more and more RTSP readers: through
// Vigil, then, when -go2rtc names a binary, through go2rtc in the same run.
type fanout struct {
	oneCamera
	steps      []int // reader counts
	rows       []fanoutRow
	go2rtc     string      // go2rtc binary (-go2rtc); empty leaves the comparison out
	go2rtcVer  string      // what it says its version is
	go2rtcRows []fanoutRow // the same steps through go2rtc
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

// run measures the fan-out through Vigil, then through go2rtc if asked,
// one server at a time on the same machine.
func (f *fanout) run(ctx context.Context, b *bench) error {
	log.Printf("  %v readers", f.steps)
	f.go2rtc = b.opts.go2rtc
	if err := f.runVigil(ctx, b); err != nil || f.go2rtc == "" {
		return err
	}
	f.go2rtcVer = go2rtcVersion(f.go2rtc)
	log.Printf("  the same steps through %s", f.go2rtcVer)
	return f.runGo2rtc(ctx, b)
}

// runVigil publishes the 1080p clip from one camera to Vigil and measures
// its steps.
func (f *fanout) runVigil(ctx context.Context, b *bench) error {
	v, err := b.startVigil(ctx, "fanout", vigilproc.Config{})
	if err != nil {
		return err
	}
	defer v.Stop()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cam := b.camera(v, b.devs[0], b.big)
	go cam.Run(cctx)
	return measureSteps(ctx, b, f.steps, v, v.readURL(b.devs[0]), cam, &f.rows)
}

// runGo2rtc does the same with go2rtc in Vigil's place.
func (f *fanout) runGo2rtc(ctx context.Context, b *bench) error {
	g, err := startGo2rtc(ctx, f.go2rtc, b.tmp)
	if err != nil {
		return err
	}
	defer g.Stop()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cam := g.camera(b, b.big)
	go cam.Run(cctx)
	return measureSteps(ctx, b, f.steps, g, g.url(), cam, &f.go2rtcRows)
}

// measureSteps adds readers of url (cam's camera, the 1080p clip) step by
// step up to each of steps, keeping the earlier ones, and appends a window
// of srv, and of also beside it, at each step to rows. The readers are
// closed when it returns.
func measureSteps(ctx context.Context, b *bench, steps []int, srv measured, url string, cam *sim.Camera, rows *[]fanoutRow, also ...measured) error {
	var rs []*reader
	defer func() { closeAll(rs) }()
	for _, n := range steps {
		since, reconnects0 := time.Now(), cam.Reconnects()
		more, err := dialAll(ctx, slices.Repeat([]string{url}, n-len(rs)))
		if err != nil {
			return err
		}
		rs = append(rs, more...)
		missing := settle(ctx, rs, since, b.opts.warmup)
		m, err := measure(ctx, srv, rs, b.opts.window, also...)
		if err != nil {
			return err
		}
		m.missing = missing
		*rows = append(*rows, fanoutRow{measurement: m, idealMbps: b.big.mbps * float64(n),
			reconnects: cam.Reconnects() - reconnects0})
		log.Printf("  %s camera_reconnects=%d", m.summary(), (*rows)[len(*rows)-1].reconnects)
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
	f.go2rtcSection(b)
}

// go2rtcSection writes the same steps through go2rtc beside Vigil's.
func (f *fanout) go2rtcSection(b *strings.Builder) {
	if len(f.go2rtcRows) == 0 {
		return
	}
	b.WriteString("### The same fan-out through go2rtc, in the same run\n\n")
	fmt.Fprintf(b, "`%s`, built from the Go module proxy by `scripts/go2rtc.sh`, started after Vigil's steps ended (one "+
		"server at a time on the machine), with RTSP on loopback, its other listeners off and one stream without a source; "+
		"the same simulated camera pushes the same clip to it (RTSP ANNOUNCE/RECORD over TCP) and the same gortsplib "+
		"readers read it over TCP, without authentication (Vigil's use Digest). go2rtc exports no metrics: no skips, "+
		"allocation or GC columns. The last columns put Vigil's step with the same readers beside it.\n\n", f.go2rtcVer)
	b.WriteString("| readers | delivered Mbit/s | % of ideal | fps/reader | go2rtc CPU % | CPU %/Gbit/s | go2rtc RSS MiB | stalls (readers) | lost pkts | writes/s | bytes/write | generator CPU % | other CPU % | Vigil CPU %/Gbit/s | Vigil ÷ go2rtc |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	var rowNote []string
	for _, row := range f.go2rtcRows {
		m := row.measurement
		vig, ratio := "–", "–"
		if v, ok := stepAt(f.rows, m.rw.readers); ok && m.rw.mbps > 0 && v.rw.mbps > 0 && m.vigil.cpuPct > 0 {
			vg, gg := v.vigil.cpuPct/v.rw.mbps, m.vigil.cpuPct/m.rw.mbps
			vig, ratio = fmt.Sprintf("%.1f", vg*1000), fmt.Sprintf("%.2f", vg/gg)
		}
		fmt.Fprintf(b, "| %d | %.1f | %.0f | %.1f | %.1f | %s | %.0f | %d (%d) | %d | %s | %s | %.0f | %.0f | %s | %s |\n",
			m.rw.readers, m.rw.mbps, pct(m.rw.mbps, row.idealMbps), m.rw.fpsPerReader, m.vigil.cpuPct,
			perGbit(m.vigil.cpuPct, m.rw.mbps), m.vigil.rssMiB, m.rw.stalls, m.rw.stalledReaders, m.rw.lost,
			num(m.vigil.writesPerSec, 0), num(m.vigil.bytesPerWrite, 0), m.bench.cpuPct, max(0, m.otherCPU), vig, ratio)
		rowNote = append(rowNote, rowNotes(fmt.Sprintf("go2rtc, %d readers", m.rw.readers), m)...)
	}
	notes(b, rowNote)
}

// clean reports whether a step ran steadily: no stall, no reader ended,
// no camera reconnect.
func (row fanoutRow) clean() bool {
	return row.rw.stalls == 0 && row.rw.ended == 0 && row.reconnects == 0
}

// stepAt is the step of rows with n readers.
func stepAt(rows []fanoutRow, n int) (fanoutRow, bool) {
	i := slices.IndexFunc(rows, func(row fanoutRow) bool { return row.rw.readers == n })
	if i < 0 {
		return fanoutRow{}, false
	}
	return rows[i], true
}

func (f *fanout) targets(b *strings.Builder, _ *report) {
	row, ok := stepAt(f.rows, 200)
	if !ok {
		b.WriteString("- **Fan-out, 200 readers**: not run at 200 readers.\n")
		return
	}
	m := row.measurement
	fmt.Fprintf(b, "- **Fan-out, 200 readers of a 4 Mbit/s camera, zero stalls**: %s — %d stalls, %s skips, %d lost packets, %.0f Mbit/s delivered.\n",
		verdict(row.clean()), m.rw.stalls, num(m.skips, 0), m.rw.lost, m.rw.mbps)
	if len(f.go2rtcRows) > 0 {
		for _, n := range []int{200, 500} {
			v, okV := stepAt(f.rows, n)
			g, okG := stepAt(f.go2rtcRows, n)
			if !okV || !okG || v.rw.mbps <= 0 || g.rw.mbps <= 0 {
				continue
			}
			if !v.clean() || !g.clean() {
				fmt.Fprintf(b, "- **CPU per delivered Gbit/s ≤ go2rtc's, %d readers, same run**: not judged — the step was not clean "+
					"(Vigil %d stalls, %d readers ended, %d camera reconnects; go2rtc %d, %d, %d): the figures are not of a steady fan-out.\n",
					n, v.rw.stalls, v.rw.ended, v.reconnects, g.rw.stalls, g.rw.ended, g.reconnects)
				continue
			}
			mine, theirs := v.vigil.cpuPct/v.rw.mbps*1000, g.vigil.cpuPct/g.rw.mbps*1000
			fmt.Fprintf(b, "- **CPU per delivered Gbit/s ≤ go2rtc's, %d readers, same run**: %s — Vigil %.1f%% of a core for %.0f Mbit/s = %.1f%% per Gbit/s; "+
				"go2rtc %.1f%% for %.0f Mbit/s = %.1f%% per Gbit/s (Vigil %.2f× go2rtc's). Both under contention with the generator (%.0f%% and %.0f%% CPU).\n",
				n, verdict(mine <= theirs), v.vigil.cpuPct, v.rw.mbps, mine, g.vigil.cpuPct, g.rw.mbps, theirs, mine/theirs, v.bench.cpuPct, g.bench.cpuPct)
		}
		return
	}
	go2rtc := peerGo2rtcFanoutCPU / peerFanoutMbps * 1000
	mtx := peerMediaMTXFanoutCPU / peerFanoutMbps * 1000
	mine := m.vigil.cpuPct / m.rw.mbps * 1000
	fmt.Fprintf(b, "- **CPU per delivered Mbit ≤ go2rtc's**: %s — Vigil %.1f%% of a core for %.0f Mbit/s = %.1f%% per Gbit/s; go2rtc %.1f%% per Gbit/s (9.5%% for 813 Mbit/s, the issue's figure; `-go2rtc` measures it in the same run), MediaMTX %.1f%% per Gbit/s (52%%). Vigil's figure is under contention with the generator (%.0f%% CPU).\n",
		verdict(mine <= go2rtc), m.vigil.cpuPct, m.rw.mbps, mine, go2rtc, mtx, m.bench.cpuPct)
}

// summary is a one-line progress note.
func (m measurement) summary() string {
	return fmt.Sprintf("readers=%d ingested=%.0f Mbit/s delivered=%.0f Mbit/s fps/reader=%.1f vigil_cpu=%.0f%% rss=%.0f MiB skips=%.0f stalls=%d lost=%d bench_cpu=%.0f%% other_cpu=%.0f%% steal=%.0f%%",
		m.rw.readers, m.ingestMbps, m.rw.mbps, m.rw.fpsPerReader, m.vigil.cpuPct, m.vigil.rssMiB, m.skips, m.rw.stalls, m.rw.lost, m.bench.cpuPct, m.otherCPU, m.steal)
}
