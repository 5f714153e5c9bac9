package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"vigil/internal/sim"
	"vigil/internal/vigilproc"
)

// manyCameras adds more and more cameras of the small clip. At each step
// it measures the cameras alone, then with one RTSP reader each; then,
// with -go2rtc, the same steps through go2rtc (one server at a time).
type manyCameras struct {
	steps      []int       // camera counts
	rows       []cameraRow // Vigil's windows, two per step
	go2rtcVer  string      // what go2rtc says its version is
	go2rtcRows []cameraRow // the same windows through go2rtc
}

// cameraRow is one window: n cameras, with no reader or one each.
type cameraRow struct {
	measurement
	cameras    int
	readers    int
	idealMbps  float64 // camera rate × readers
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

// run measures the steps through Vigil, then through go2rtc if asked.
func (c *manyCameras) run(ctx context.Context, b *bench) error {
	log.Printf("  %v cameras", c.steps)
	v, err := b.startVigil(ctx, "cameras", vigilproc.Config{})
	if err != nil {
		return err
	}
	err = b.cameraSteps(ctx, cameraPlan{steps: c.steps, devs: b.devs[1:], bare: true, srv: v,
		camera:  func(_ int, d device) *sim.Camera { return b.camera(v, d, b.small) },
		readURL: func(_ int, d device) string { return v.readURL(d) },
		profile: func(name string) <-chan struct{} { return b.profileWindow(ctx, v, name) },
	}, &c.rows)
	v.Stop()
	if err != nil || b.opts.go2rtc == "" {
		return err
	}
	c.go2rtcVer = go2rtcVersion(b.opts.go2rtc)
	log.Printf("  the same steps through %s", c.go2rtcVer)
	devs := b.devs[1:c.cameras()]
	names := make([]string, len(devs))
	for i, d := range devs {
		names[i] = d.ID
	}
	g, err := startGo2rtc(ctx, b.opts.go2rtc, b.tmp, names...)
	if err != nil {
		return err
	}
	defer g.Stop()
	return b.cameraSteps(ctx, cameraPlan{steps: c.steps, devs: devs, bare: true, srv: g,
		camera: func(_ int, d device) *sim.Camera {
			return &sim.Camera{URL: g.streamURL(d.ID), ID: d.ID, Key: sim.CameraKey(b.secret, d.ID), FPS: b.small.fps,
				Clip: b.small.units, Logger: b.simLog}
		},
		readURL: func(_ int, d device) string { return g.streamURL(d.ID) },
	}, &c.go2rtcRows)
}

// cameraPlan is where the many-cameras steps run: on one server (Vigil,
// or go2rtc beside it), or over a cluster's nodes.
type cameraPlan struct {
	steps []int
	devs  []device // at least the last step's
	// camera is camera j (device d) publishing the small clip where it
	// should; readURL is where its reader reads it.
	camera  func(j int, d device) *sim.Camera
	readURL func(j int, d device) string
	// bare measures each step's cameras alone too, before their readers.
	bare bool
	srv  measured   // measured at each step
	also []measured // sampled beside srv (a cluster's other nodes)
	// profile, if set, profiles the server over a window (see
	// bench.profileWindow).
	profile func(name string) <-chan struct{}
}

// cameraSteps adds cameras step by step, keeping the earlier ones, and
// appends to rows a window of the cameras alone (if p.bare; the readers
// of the step before closed), then one with one RTSP reader each. Camera
// starts are spread over one GOP so that their keyframes do not all
// coincide.
func (b *bench) cameraSteps(ctx context.Context, p cameraPlan, rows *[]cameraRow) error {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var cams []*sim.Camera
	for _, n := range p.steps {
		reconnects0 := reconnects(cams)
		for j := len(cams); j < n; j++ {
			cams = append(cams, b.startCameras(cctx, func(d device) *sim.Camera { return p.camera(j, d) }, p.devs[j:j+1])...)
		}
		// Every camera publishing: the start spread (one GOP), then the warmup.
		if !sleep(ctx, 2*time.Second+b.opts.warmup) {
			return ctx.Err()
		}
		windows := []int{n}
		if p.bare {
			windows = []int{0, n}
		}
		for _, readers := range windows {
			since := time.Now()
			var urls []string
			for j, d := range p.devs[:readers] {
				urls = append(urls, p.readURL(j, d))
			}
			rs, err := dialAll(ctx, urls)
			if err != nil {
				return err
			}
			missing := 0
			if readers > 0 {
				missing = settle(ctx, rs, since, b.opts.warmup)
			}
			done := closedChan()
			if p.profile != nil {
				done = p.profile(fmt.Sprintf("cameras-%d-readers-%d", n, readers))
			}
			m, err := measure(ctx, p.srv, rs, b.opts.window, p.also...)
			<-done
			closeAll(rs)
			if err != nil {
				return err
			}
			m.missing = missing
			*rows = append(*rows, cameraRow{measurement: m, cameras: n, readers: readers,
				idealMbps: b.small.mbps * float64(readers), reconnects: reconnects(cams) - reconnects0})
			log.Printf("  cameras=%d readers=%d %s", n, readers, m.summary())
		}
	}
	return nil
}

func closedChan() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

// startCameras runs a camera per device, each after a random delay within
// one GOP (2 s).
func (b *bench) startCameras(ctx context.Context, camera func(device) *sim.Camera, devs []device) []*sim.Camera {
	var cams []*sim.Camera
	for _, d := range devs {
		cam := camera(d)
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

// fits reports whether the window ran steadily, its cameras all ingested
// and delivered: no stall, no camera reconnect, over 95% of the ideal rate
// delivered (when it had readers).
func (row cameraRow) fits() bool {
	return row.cameras > 0 && row.rw.stalls == 0 && row.reconnects == 0 &&
		(row.readers == 0 || pct(row.rw.mbps, row.idealMbps) > 95)
}

func reconnects(cams []*sim.Camera) uint64 {
	var n uint64
	for _, c := range cams {
		n += c.Reconnects()
	}
	return n
}

func (c *manyCameras) section(b *strings.Builder, _ *report) {
	b.WriteString("## Many cameras: N cameras, with no reader and with one reader each\n\n")
	b.WriteString("Each step adds cameras of the 0.5 Mbit/s clip (RTSP push over TCP) and measures them alone, then with one " +
		"RTSP reader each. \"Ingested\" is the cameras' payload rate into Vigil (vigil_ingest_bytes_total). \"GOP cache MiB\" is vigil_gop_cache_bytes summed at the window's end (the current and previous " +
		"GOP of every camera): the media the process must hold. \"GC CPU %\" is the runtime's own estimate of its collector's CPU (/cpu/classes/gc/total): it counts the wall time of " +
		"the collector's workers and pauses, so it overstates, and a busy machine inflates it; compare it between runs on a quiet one. \"Anon MiB\" is the RSS without file-backed pages " +
		"(RssAnon): what the process allocated, without the binary's code and data mapped from disk (clean pages the kernel " +
		"shares with its page cache and can drop).\n\n")
	b.WriteString("| cameras | readers | ingested Mbit/s | delivered Mbit/s | % of ideal | fps/reader | Vigil CPU % | CPU % per camera | Vigil RSS MiB | anon MiB | GOP cache MiB | RSS − cache MiB | skips | stalls (readers) | lost pkts | camera reconnects | writes/s | alloc MiB/s | GC/s | GC CPU % | generator CPU % | other CPU % |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	var rowNote []string
	for _, row := range c.rows {
		m := row.measurement
		fmt.Fprintf(b, "| %d | %d | %s | %.1f | %s | %s | %.1f | %.3f | %.0f | %.0f | %s | %s | %s | %d (%d) | %d | %d | %s | %s | %s | %s | %.0f | %.0f |\n",
			row.cameras, row.readers, num(m.ingestMbps, 1), m.rw.mbps, num(pct(m.rw.mbps, row.idealMbps), 0), num(m.rw.fpsPerReader, 1),
			m.vigil.cpuPct, m.vigil.cpuPct/float64(row.cameras), m.vigil.rssMiB, m.vigil.anonMiB, num(m.cacheMiB, 1),
			num(m.vigil.rssMiB-m.cacheMiB, 0), num(m.skips, 0), m.rw.stalls, m.rw.stalledReaders, m.rw.lost,
			row.reconnects, num(m.vigil.writesPerSec, 0), num(m.allocMBps, 0), num(m.gcPerSec, 1), num(m.gcCPU, 1),
			m.bench.cpuPct, max(0, m.otherCPU))
		rowNote = append(rowNote, rowNotes(fmt.Sprintf("%d cameras, %d readers", row.cameras, row.readers), m)...)
	}
	notes(b, rowNote)
	if len(c.go2rtcRows) == 0 {
		return
	}
	b.WriteString("### The same steps through go2rtc, in the same run\n\n")
	fmt.Fprintf(b, "`%s` (scripts/go2rtc.sh), started after Vigil's steps ended, one stream per camera without a source; the same "+
		"simulated cameras push to it and the same readers read it, without authentication. The last columns divide Vigil's "+
		"window with the same cameras and readers by go2rtc's.\n\n", c.go2rtcVer)
	b.WriteString("| cameras | readers | delivered Mbit/s | fps/reader | go2rtc CPU % | go2rtc RSS MiB | anon MiB | stalls (readers) | camera reconnects | writes/s | generator CPU % | other CPU % | Vigil ÷ go2rtc CPU | Vigil ÷ go2rtc RSS |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	rowNote = nil
	for _, row := range c.go2rtcRows {
		m := row.measurement
		cpu, rss := "–", "–"
		if v, ok := cameraRowAt(c.rows, row.cameras, row.readers); ok && m.vigil.cpuPct > 0 {
			cpu, rss = fmt.Sprintf("%.2f", v.vigil.cpuPct/m.vigil.cpuPct), fmt.Sprintf("%.2f", v.vigil.rssMiB/m.vigil.rssMiB)
		}
		fmt.Fprintf(b, "| %d | %d | %.1f | %s | %.1f | %.0f | %.0f | %d (%d) | %d | %s | %.0f | %.0f | %s | %s |\n",
			row.cameras, row.readers, m.rw.mbps, num(m.rw.fpsPerReader, 1), m.vigil.cpuPct, m.vigil.rssMiB, m.vigil.anonMiB,
			m.rw.stalls, m.rw.stalledReaders, row.reconnects, num(m.vigil.writesPerSec, 0), m.bench.cpuPct,
			max(0, m.otherCPU), cpu, rss)
		rowNote = append(rowNote, rowNotes(fmt.Sprintf("go2rtc, %d cameras, %d readers", row.cameras, row.readers), m)...)
	}
	notes(b, rowNote)
}

// cameraRowAt is the window of rows with n cameras and r readers.
func cameraRowAt(rows []cameraRow, n, r int) (cameraRow, bool) {
	i := slices.IndexFunc(rows, func(row cameraRow) bool { return row.cameras == n && row.readers == r })
	if i < 0 {
		return cameraRow{}, false
	}
	return rows[i], true
}

// targets judges issue 17's windows (150 and 500 cameras with a reader
// each, 150 alone): CPU ≤ go2rtc's in the same run, RSS ≤ the GOP
// caches' bytes + 40 MiB.
func (c *manyCameras) targets(b *strings.Builder, r *report) {
	judged := false
	for _, w := range []struct{ n, r int }{{150, 150}, {500, 500}, {150, 0}} {
		v, ok := cameraRowAt(c.rows, w.n, w.r)
		if !ok {
			continue
		}
		judged = true
		what := fmt.Sprintf("%d cameras, one reader each", w.n)
		if w.r == 0 {
			what = fmt.Sprintf("%d cameras, no readers", w.n)
		}
		cpu := "not judged (no go2rtc run: -go2rtc)"
		g, okG := cameraRowAt(c.go2rtcRows, w.n, w.r)
		switch {
		case okG && (!v.fits() || !g.fits()):
			cpu = fmt.Sprintf("not judged — a window was not clean (Vigil %.0f%% delivered, %d stalls, %d reconnects; "+
				"go2rtc %.0f%%, %d, %d): the figures are not of a steady load", pct(v.rw.mbps, v.idealMbps), v.rw.stalls,
				v.reconnects, pct(g.rw.mbps, g.idealMbps), g.rw.stalls, g.reconnects)
		case okG && g.vigil.cpuPct > 0:
			cpu = fmt.Sprintf("%s — Vigil %.1f%%, go2rtc %.1f%% (%.2f×; go2rtc RSS %.0f MiB)",
				verdict(v.vigil.cpuPct <= g.vigil.cpuPct), v.vigil.cpuPct, g.vigil.cpuPct, v.vigil.cpuPct/g.vigil.cpuPct, g.vigil.rssMiB)
		}
		rss := "not judged (no vigil_gop_cache_bytes)"
		if !math.IsNaN(v.cacheMiB) {
			rss = fmt.Sprintf("%s — %.0f MiB for %.1f MiB of GOP cache (%.0f MiB beyond it)",
				verdict(v.vigil.rssMiB <= v.cacheMiB+40), v.vigil.rssMiB, v.cacheMiB, v.vigil.rssMiB-v.cacheMiB)
		}
		fmt.Fprintf(b, "- **%s: CPU ≤ go2rtc's in the same run**: %s; **RSS ≤ GOP cache + 40 MiB**: %s.\n", what, cpu, rss)
	}
	if row500, ok := cameraRowAt(c.rows, 500, 500); ok {
		fmt.Fprintf(b, "- **500 cameras at 0.5 Mbit/s ingested**: %s — %.0f%% of the ideal %.0f Mbit/s delivered, %.1f fps per reader (of %d), %d stalls, %d camera reconnects; Vigil %.1f%% CPU (%.3f%% per camera), %.0f MiB RSS (%.2f MiB per camera).\n",
			verdict(row500.fits()),
			pct(row500.rw.mbps, row500.idealMbps), row500.idealMbps, row500.rw.fpsPerReader, r.small.fps, row500.rw.stalls, row500.reconnects,
			row500.vigil.cpuPct, row500.vigil.cpuPct/500, row500.vigil.rssMiB, row500.vigil.rssMiB/500)
	}
	if !judged {
		b.WriteString("- **Many cameras**: not run at 150 or 500 cameras.\n")
	}
}
