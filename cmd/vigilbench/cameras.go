package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"vigil/internal/sim"
	"vigil/internal/vigilproc"
)

// Peer figures from the issue: go2rtc with 150 cameras, one reader each.
const (
	peerGo2rtcCamsCPU = 18.7 // % of a core
	peerGo2rtcCamsRSS = 39.0 // MiB
)

// manyCameras adds more and more cameras of the small clip, each with one
// RTSP reader.
type manyCameras struct {
	steps []int // camera counts
	rows  []cameraRow
}

// cameraRow is one step: n cameras, one reader each.
type cameraRow struct {
	measurement
	cameras    int
	idealMbps  float64 // camera rate × cameras
	reconnects uint64  // camera sessions that failed and were retried, this step
}

func (c *manyCameras) flags(fs *flag.FlagSet) {
	countsVar(fs, &c.steps, "cameras", "camera counts of the many-cameras steps (default 50,150,500; quick 5,20)")
}

func (c *manyCameras) setDefaults(quick bool) error {
	if c.steps == nil {
		c.steps = quickOr(quick, []int{5, 20}, []int{50, 150, 500})
	}
	return nil
}

// cameras leaves the first camera to the scenarios of one camera.
func (c *manyCameras) cameras() int { return 1 + c.steps[len(c.steps)-1] }

// run adds cameras step by step, each with one reader, keeping the
// earlier ones, and measures a window at each step.
func (c *manyCameras) run(ctx context.Context, b *bench) error {
	log.Printf("  %v cameras", c.steps)
	v, err := b.startVigil(ctx, "cameras", vigilproc.Config{})
	if err != nil {
		return err
	}
	defer v.Stop()
	on := func(int) *vigil { return v }
	return b.cameraSteps(ctx, cameraPlan{steps: c.steps, devs: b.devs[1:], push: on, read: on, srv: v}, &c.rows)
}

// cameraPlan is where the many-cameras steps run: on one server, or over
// a cluster's nodes.
type cameraPlan struct {
	steps      []int
	devs       []device           // at least the last step's
	push, read func(j int) *vigil // where camera j publishes, where its reader reads it
	srv        measured           // measured at each step
	also       []measured         // sampled beside srv (a cluster's other nodes)
}

// cameraSteps adds cameras of the small clip step by step, each with one
// RTSP reader, keeping the earlier ones, and appends a window at each
// step to rows. Camera starts are spread over one GOP so that their
// keyframes do not all coincide.
func (b *bench) cameraSteps(ctx context.Context, p cameraPlan, rows *[]cameraRow) error {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var cams []*sim.Camera
	var rs []*reader
	defer func() { closeAll(rs) }()
	for _, n := range p.steps {
		since, reconnects0 := time.Now(), reconnects(cams)
		var urls []string
		for j := len(cams); j < n; j++ {
			cams = append(cams, b.startCameras(cctx, p.push(j), p.devs[j:j+1])...)
			urls = append(urls, p.read(j).readURL(p.devs[j]))
		}
		more, err := dialAll(ctx, urls)
		if err != nil {
			return err
		}
		rs = append(rs, more...)
		missing := settle(ctx, rs, since, b.opts.warmup)
		m, err := measure(ctx, p.srv, rs, b.opts.window, p.also...)
		if err != nil {
			return err
		}
		m.missing = missing
		*rows = append(*rows, cameraRow{measurement: m, cameras: n, idealMbps: b.small.mbps * float64(n),
			reconnects: reconnects(cams) - reconnects0})
		log.Printf("  cameras=%d %s", n, m.summary())
	}
	return nil
}

// startCameras runs a camera per device, each after a random delay within
// one GOP (2 s).
func (b *bench) startCameras(ctx context.Context, v *vigil, devs []device) []*sim.Camera {
	var cams []*sim.Camera
	for _, d := range devs {
		cam := b.camera(v, d, b.small)
		cams = append(cams, cam)
		delay := rand.N(2 * time.Second)
		go func() {
			if sleep(ctx, delay) {
				cam.Run(ctx)
			}
		}()
	}
	return cams
}

// fits reports whether the step's cameras were all ingested and delivered:
// no stall, no camera reconnect, over 95% of the ideal rate delivered.
func (row cameraRow) fits() bool {
	return row.rw.stalls == 0 && row.reconnects == 0 && pct(row.rw.mbps, row.idealMbps) > 95
}

func reconnects(cams []*sim.Camera) uint64 {
	var n uint64
	for _, c := range cams {
		n += c.Reconnects()
	}
	return n
}

func (c *manyCameras) section(b *strings.Builder, _ *report) {
	b.WriteString("## Many cameras: N cameras, one reader each\n\n")
	b.WriteString("| cameras | delivered Mbit/s | % of ideal | fps/reader | Vigil CPU % | CPU % per camera | Vigil RSS MiB | RSS MiB per camera | skips | stalls (readers) | lost pkts | camera reconnects | writes/s | alloc MiB/s | GC/s | generator CPU % | other CPU % |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	var rowNote []string
	for _, row := range c.rows {
		m := row.measurement
		n := float64(row.cameras)
		fmt.Fprintf(b, "| %d | %.1f | %.0f | %.1f | %.1f | %.3f | %.0f | %.2f | %s | %d (%d) | %d | %d | %s | %s | %s | %.0f | %.0f |\n",
			row.cameras, m.rw.mbps, pct(m.rw.mbps, row.idealMbps), m.rw.fpsPerReader, m.vigil.cpuPct, m.vigil.cpuPct/n,
			m.vigil.rssMiB, m.vigil.rssMiB/n, num(m.skips, 0), m.rw.stalls, m.rw.stalledReaders, m.rw.lost,
			row.reconnects, num(m.vigil.writesPerSec, 0), num(m.allocMBps, 0), num(m.gcPerSec, 1),
			m.bench.cpuPct, max(0, m.otherCPU))
		rowNote = append(rowNote, rowNotes(fmt.Sprintf("%d cameras", row.cameras), m)...)
	}
	b.WriteString("\nRSS per camera is total RSS divided by cameras (it includes the process's fixed base).\n")
	notes(b, rowNote)
}

func (c *manyCameras) targets(b *strings.Builder, r *report) {
	find := func(n int) (cameraRow, bool) {
		i := slices.IndexFunc(c.rows, func(row cameraRow) bool { return row.cameras == n })
		if i < 0 {
			return cameraRow{}, false
		}
		return c.rows[i], true
	}
	row500, ok500 := find(500)
	if ok500 {
		fmt.Fprintf(b, "- **500 cameras at 0.5 Mbit/s ingested**: %s — %.0f%% of the ideal %.0f Mbit/s delivered, %.1f fps per reader (of %d), %d stalls, %d camera reconnects; Vigil %.1f%% CPU (%.3f%% per camera), %.0f MiB RSS (%.2f MiB per camera).\n",
			verdict(row500.fits()),
			pct(row500.rw.mbps, row500.idealMbps), row500.idealMbps, row500.rw.fpsPerReader, r.small.fps, row500.rw.stalls, row500.reconnects,
			row500.vigil.cpuPct, row500.vigil.cpuPct/500, row500.vigil.rssMiB, row500.vigil.rssMiB/500)
	}
	row150, ok150 := find(150)
	if ok150 {
		fmt.Fprintf(b, "- **150 cameras, one reader each, vs go2rtc (18.7%% CPU, 39 MiB)**: CPU %s, RSS %s — Vigil %.1f%% CPU, %.0f MiB RSS (%.3f%% and %.2f MiB per camera; go2rtc %.3f%% and %.2f MiB).\n",
			verdict(row150.vigil.cpuPct <= peerGo2rtcCamsCPU), verdict(row150.vigil.rssMiB <= peerGo2rtcCamsRSS),
			row150.vigil.cpuPct, row150.vigil.rssMiB, row150.vigil.cpuPct/150, row150.vigil.rssMiB/150, peerGo2rtcCamsCPU/150, peerGo2rtcCamsRSS/150)
	}
	if !ok500 && !ok150 {
		b.WriteString("- **Many cameras**: not run at 150 or 500 cameras.\n")
	}
}
