package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"log"
	"strings"
	"time"

	"vigil/internal/sim"
	"vigil/internal/vigilproc"
)

// Recorder metrics scraped from /metrics.
const (
	metricRecSegments = "vigil_record_segments_total"
	metricRecBytes    = "vigil_record_bytes_total"
	metricRecDropped  = "vigil_record_dropped_fragments_total"
	metricRecFailed   = "vigil_record_failed_segments_total"
	metricRecUnindex  = "vigil_record_unindexed_segments_total"
)

// lossSeries are the recorder's loss counters by reason (internal/record's
// lossReasons), scraped one series each so that a window with losses says
// why.
var lossSeries = func() []string {
	var out []string
	for _, r := range []string{"queue_full", "reader_behind", "no_start"} {
		out = append(out, metricRecDropped+`{reason="`+r+`"}`)
	}
	for _, r := range []string{"first_fragment", "mux", "egress", "store", "store_stalled"} {
		out = append(out, metricRecFailed+`{reason="`+r+`"}`)
	}
	return append(out, metricRecUnindex)
}()

// recordCost publishes N cameras of the small clip to a Vigil that only
// relays them, then to one that also records them all, and compares.
type recordCost struct {
	cams    int
	segment time.Duration
	window  time.Duration
	rows    []recordRow
}

// recordRow is one Vigil's window.
type recordRow struct {
	recording bool
	measurement
	segmentsPerSec, mbps, dropped, failed float64            // from the recorder's metrics
	losses                                map[string]float64 // by lossSeries, the nonzero ones
}

func (c *recordCost) flags(fs *flag.FlagSet) {
	fs.IntVar(&c.cams, "record-cameras", 0, "cameras recorded (default 500; quick 20)")
	fs.DurationVar(&c.segment, "record-segment", 0, "record_segment of the recording Vigil (default 20s)")
}

func (c *recordCost) setDefaults(quick bool) error {
	c.cams = cmp.Or(c.cams, quickOr(quick, 20, 500))
	c.segment = cmp.Or(c.segment, 20*time.Second)
	return nil
}

func (c *recordCost) cameras() int { return 1 + c.cams }

// run measures live only, then recording, each on a fresh Vigil with the
// same cameras (started over one GOP), over a window of two segments after
// one segment of settling (every stream's first, staggered cut is behind).
func (c *recordCost) run(ctx context.Context, b *bench) error {
	c.window = max(b.opts.window, 2*c.segment)
	log.Printf("  %d cameras of %.2f Mbit/s, live only then recorded (%v segments), %v windows", c.cams, b.small.mbps, c.segment, c.window)
	for _, rec := range []bool{false, true} {
		row, err := c.one(ctx, b, rec)
		if err != nil {
			return err
		}
		c.rows = append(c.rows, row)
		log.Printf("  recording=%v %s; %.1f segments/s, %.1f Mbit/s stored", rec, row.summary(), row.segmentsPerSec, row.mbps)
	}
	return nil
}

func (c *recordCost) one(ctx context.Context, b *bench, rec bool) (recordRow, error) {
	name, env := "record-off", []string(nil)
	if rec {
		name, env = "record-on", []string{"VIGIL_RECORD=true", "VIGIL_RECORD_SEGMENT=" + c.segment.String()}
	}
	v, err := b.startVigil(ctx, name, vigilproc.Config{Env: env})
	if err != nil {
		return recordRow{}, err
	}
	defer v.Stop()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	b.startCameras(cctx, func(d device) *sim.Camera { return b.camera(v, d, b.small) }, b.devs[1:1+c.cams])
	if err := waitLive(ctx, v.readURL(b.devs[1])); err != nil {
		return recordRow{}, err
	}
	if !sleep(ctx, max(b.opts.warmup, c.segment+2*time.Second)) {
		return recordRow{}, ctx.Err()
	}
	names := append([]string{metricRecSegments, metricRecBytes, metricRecDropped, metricRecFailed}, lossSeries...)
	m0, err := v.Metrics(ctx, names...)
	if err != nil {
		return recordRow{}, err
	}
	m, err := measure(ctx, v, nil, c.window)
	if err != nil {
		return recordRow{}, err
	}
	m1, err := v.Metrics(ctx, names...)
	if err != nil {
		return recordRow{}, err
	}
	secs := c.window.Seconds()
	losses := map[string]float64{}
	for _, n := range lossSeries {
		if d := m1[n] - m0[n]; d != 0 {
			losses[n] = d
		}
	}
	return recordRow{recording: rec, measurement: m, segmentsPerSec: (m1[metricRecSegments] - m0[metricRecSegments]) / secs,
		mbps: (m1[metricRecBytes] - m0[metricRecBytes]) * 8 / secs / 1e6, dropped: m1[metricRecDropped] - m0[metricRecDropped],
		failed: m1[metricRecFailed] - m0[metricRecFailed], losses: losses}, nil
}

func (c *recordCost) section(b *strings.Builder, _ *report) {
	if len(c.rows) < 2 {
		return
	}
	b.WriteString("## Recording: N cameras recorded against live only\n\n")
	fmt.Fprintf(b, "%d cameras of the small clip push to a fresh Vigil that relays them (no reader), then to a fresh Vigil "+
		"that also records every one (record_segment %v, sealed, on the data directory's disk); each measured over %v after "+
		"a segment's settling. Stored Mbit/s is the fMP4 the recorder stored (before sealing); segments/s is segments "+
		"closed, each fsynced once (`vigil_record_segments_total`); writes/s counts every write syscall of Vigil.\n\n",
		c.cams, c.segment, c.window)
	b.WriteString("| Vigil | Vigil CPU % | Vigil RSS MiB | writes/s | bytes/write | stored Mbit/s | segments (fsyncs)/s | dropped fragments | lost segments | generator CPU % | other CPU % |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range c.rows {
		name := "live only"
		if r.recording {
			name = "recording"
		}
		fmt.Fprintf(b, "| %s | %.1f | %.0f | %s | %s | %.1f | %.2f | %.0f | %.0f | %.0f | %.0f |\n", name, r.vigil.cpuPct, r.vigil.rssMiB,
			num(r.vigil.writesPerSec, 0), num(r.vigil.bytesPerWrite, 0), r.mbps, r.segmentsPerSec, r.dropped, r.failed,
			r.bench.cpuPct, max(0, r.otherCPU))
	}
	off, on := c.rows[0], c.rows[1]
	if len(on.losses) > 0 {
		b.WriteString("\nLosses in the recording window, by reason:")
		for _, n := range lossSeries {
			if d, ok := on.losses[n]; ok {
				fmt.Fprintf(b, " `%s` %.0f;", n, d)
			}
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(b, "\nRecording adds **%.1f%%** of a core (%.3f%% per camera) and **%.0f MiB** RSS (%.2f MiB per camera).\n\n",
		on.vigil.cpuPct-off.vigil.cpuPct, (on.vigil.cpuPct-off.vigil.cpuPct)/float64(c.cams), on.vigil.rssMiB-off.vigil.rssMiB,
		(on.vigil.rssMiB-off.vigil.rssMiB)/float64(c.cams))
}

func (c *recordCost) targets(b *strings.Builder, _ *report) {
	if len(c.rows) < 2 {
		return
	}
	off, on := c.rows[0], c.rows[1]
	fmt.Fprintf(b, "- **Recording %d cameras at 0.5 Mbit/s** (no aim, issue 15's figure): +%.1f%% CPU, +%.0f MiB RSS over live only; "+
		"%.1f Mbit/s stored, %.2f fsyncs/s, %.0f fragments dropped.\n", c.cams, on.vigil.cpuPct-off.vigil.cpuPct,
		on.vigil.rssMiB-off.vigil.rssMiB, on.mbps, on.segmentsPerSec, on.dropped)
}
