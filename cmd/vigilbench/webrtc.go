package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"strings"
	"sync"
	"time"

	"vigil/internal/sim"
	"vigil/internal/vigilproc"
)

// webrtcStallGap is the pause between two frames that counts as a stall
// for a WebRTC viewer.
const webrtcStallGap = 500 * time.Millisecond

// webrtcFanout joins N WHEP viewers to one 1080p camera and measures them
// over a steady-state window.
type webrtcFanout struct {
	oneCamera
	viewers   int
	ran       bool
	failed    int             // joins that got no first frame
	ttff      []time.Duration // offer posted → first complete unit, per viewer
	notKey    int             // first unit without an IDR and its SPS and PPS
	baseRSS   float64         // Vigil's RSS, MiB, with the camera and no viewer
	m         measurement     // Vigil's and the generator's use over the window
	mbps      float64         // RTP bytes received by all viewers
	fps       float64         // per viewer
	stalls    int             // pauses > webrtcStallGap in the window, open ones included
	stalled   int             // viewers with a stall
	maxGap    time.Duration   // longest pause between frames of any viewer, whole run
	lost      int             // packets missing on arrival, window
	late      int             // of which repaired by NACK retransmission, window
	badStamps int             // viewers that saw a foreign, bad or no stamp
	idealMbps float64
}

func (r *webrtcFanout) flags(fs *flag.FlagSet) {
	fs.IntVar(&r.viewers, "webrtc-viewers", 0, "WHEP viewers of the WebRTC fan-out (default 50; quick 10)")
}

func (r *webrtcFanout) setDefaults(quick bool) error {
	r.viewers = cmp.Or(r.viewers, quickOr(quick, 10, 50))
	return nil
}

// run publishes the 1080p clip from one camera and joins r.viewers pion
// viewers to it over WHEP, ten at a time.
func (r *webrtcFanout) run(ctx context.Context, b *bench) error {
	n := r.viewers
	log.Printf("  %d WHEP viewers", n)
	r.idealMbps = b.big.mbps * float64(n)
	v, d, stop, err := b.live(ctx, "webrtc", b.big,
		vigilproc.Config{Env: []string{fmt.Sprintf("VIGIL_WEBRTC_MAX_SESSIONS_PER_USER=%d", n)}})
	if err != nil {
		return err
	}
	defer stop()
	r.ran = true
	sleep(ctx, b.opts.warmup)
	if p, err := sampleProc(v.PID()); err == nil {
		r.baseRSS = float64(p.rssKiB) / 1024
	}
	viewers := r.join(ctx, v, d, b.secret)
	defer func() {
		for _, w := range viewers {
			w.Close()
		}
	}()
	sleep(ctx, b.opts.warmup)
	t0 := webrtcTally(viewers)
	m, err := measure(ctx, v, nil, b.opts.window)
	if err != nil {
		return err
	}
	r.m = m
	r.window(viewers, t0, webrtcTally(viewers))
	for _, w := range viewers {
		if err := w.Checker().Only(d.ID); err != nil {
			r.badStamps++
		}
	}
	log.Printf("  viewers=%d failed=%d delivered=%.0f Mbit/s fps/viewer=%.1f stalls=%d vigil_cpu=%.0f%% rss=%.0f MiB bench_cpu=%.0f%%",
		n, r.failed, r.mbps, r.fps, r.stalls, m.vigil.cpuPct, m.vigil.rssMiB, m.bench.cpuPct)
	return nil
}

// join joins r.viewers viewers, ten at a time, recording their time to
// first frame; it returns those that joined.
func (r *webrtcFanout) join(ctx context.Context, v *vigil, d device, secret []byte) []*sim.WebRTCViewer {
	var mu sync.Mutex
	var out []*sim.WebRTCViewer
	var wg sync.WaitGroup
	slots := make(chan struct{}, 10)
	for range r.viewers {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			w, ttff, err := whepJoin(ctx, v, d, secret)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				log.Printf("  WHEP join failed: %v", err)
				r.failed++
				return
			}
			out = append(out, w)
			r.ttff = append(r.ttff, ttff)
			if st := w.Stats(); !st.FirstKey || !st.FirstParams {
				r.notKey++
			}
		})
	}
	wg.Wait()
	return out
}

// whepJoin makes a viewer, posts its offer to d's WHEP endpoint as the
// admin and waits for its first complete unit; the time runs from the POST.
func whepJoin(ctx context.Context, v *vigil, d device, secret []byte) (*sim.WebRTCViewer, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, httpJoinLimit)
	defer cancel()
	w, err := sim.NewWebRTCViewer(sim.StaticKeys(secret), sim.WebRTCOptions{StallGap: webrtcStallGap})
	if err != nil {
		return nil, 0, err
	}
	answer, _, t0, err := postOffer(ctx, v, d, w)
	if err == nil {
		err = w.Accept(answer)
	}
	if err == nil {
		err = w.WaitUnits(ctx, 1)
	}
	if err != nil {
		w.Close()
		return nil, 0, err
	}
	return w, w.Stats().FirstUnit.Sub(t0), nil
}

// postOffer posts w's offer and returns the answer, the session's URL path
// (Location) and when the POST began.
func postOffer(ctx context.Context, v *vigil, d device, w *sim.WebRTCViewer) (answer, loc string, t0 time.Time, err error) {
	offer, err := w.Offer(ctx)
	if err != nil {
		return "", "", time.Time{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, v.apiURL(d, "whep"), strings.NewReader(offer))
	if err != nil {
		return "", "", time.Time{}, err
	}
	req.Header.Set("Content-Type", "application/sdp")
	req.SetBasicAuth("admin", v.AdminPassword())
	t0 = time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", "", t0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err == nil && resp.StatusCode != http.StatusCreated {
		err = fmt.Errorf("WHEP: %s %q", resp.Status, body)
	}
	return string(body), resp.Header.Get("Location"), t0, err
}

// webrtcSnapshot is every viewer's figures at one moment.
type webrtcSnapshot struct {
	at    time.Time
	stats []sim.WebRTCStats
}

func webrtcTally(ws []*sim.WebRTCViewer) webrtcSnapshot {
	s := webrtcSnapshot{at: time.Now()}
	for _, w := range ws {
		s.stats = append(s.stats, w.Stats())
	}
	return s
}

// window fills the viewers' figures between two snapshots; a stall still
// open at the end counts.
func (r *webrtcFanout) window(ws []*sim.WebRTCViewer, a, b webrtcSnapshot) {
	secs := b.at.Sub(a.at).Seconds()
	var bytes int64
	units := 0
	for i := range ws {
		x, y := a.stats[i], b.stats[i]
		bytes += y.VideoBytes - x.VideoBytes
		units += y.Units - x.Units
		r.lost += y.Lost - x.Lost
		r.late += y.Late - x.Late
		stalls := y.Stalls - x.Stalls
		if b.at.Sub(y.LastUnit) > webrtcStallGap {
			stalls++
		}
		r.stalls += stalls
		if stalls > 0 {
			r.stalled++
		}
		r.maxGap = max(r.maxGap, y.MaxGap)
	}
	r.mbps = float64(bytes) * 8 / secs / 1e6
	if len(ws) > 0 {
		r.fps = float64(units) / secs / float64(len(ws))
	}
}

func (w *webrtcFanout) section(b *strings.Builder, r *report) {
	if !w.ran {
		return
	}
	m := w.m
	b.WriteString("## WebRTC fan-out: one 1080p camera to N WHEP viewers\n\n")
	fmt.Fprintf(b, "The 1080p camera (%.1f Mbit/s, GOP %s) with %d pion viewers in the generator, each joined over WHEP "+
		"(`POST /api/cameras/{id}/whep` as the admin, a complete offer, loopback ICE candidates), ten joins at a time. "+
		"TTFF runs from the POST to the viewer's first complete access unit (depacketized from SRTP). Viewers have a "+
		"jitter buffer and send NACKs, as browsers do: lost counts packets missing on arrival, repaired those of them "+
		"that a retransmission brought back. A stall is a pause of over %s between two frames of a viewer (ones still "+
		"open at the end count); max gap is over the whole run, joins included. Every unit's stamp is checked. Vigil's "+
		"RSS with the camera and no viewer was %.0f MiB. WebRTC is UDP: every packet is SRTP-encrypted for its "+
		"viewer and sent with a syscall of its own (`sendto`, which `syscw` does not count), where RTSP over TCP "+
		"writes a frame per syscall, so its CPU per Gbit/s is not comparable with the RTSP fan-out's.\n\n",
		r.big.mbps, gopDuration(r.big), w.viewers, webrtcStallGap, w.baseRSS)
	b.WriteString("| viewers | failed joins | TTFF p50 | p95 | max | first unit not a keyframe | delivered Mbit/s | % of ideal | fps/viewer | stalls (viewers) | max gap | lost pkts | repaired | bad stamps (viewers) | Vigil CPU % | CPU %/Gbit/s | Vigil RSS MiB | alloc MiB/s | GC/s | generator CPU % | other CPU % |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	fmt.Fprintf(b, "| %d | %d | %s | %s | %s | %d | %.1f | %.0f | %.1f | %d (%d) | %s | %d | %d | %d | %.1f | %s | %.0f | %s | %s | %.0f | %.0f |\n\n",
		w.viewers, w.failed, ms(percentile(w.ttff, 50)), ms(percentile(w.ttff, 95)), ms(percentile(w.ttff, 100)), w.notKey,
		w.mbps, pct(w.mbps, w.idealMbps), w.fps, w.stalls, w.stalled, ms(w.maxGap), w.lost, w.late, w.badStamps,
		m.vigil.cpuPct, perGbit(m.vigil.cpuPct, w.mbps), m.vigil.rssMiB, num(m.allocMBps, 0), num(m.gcPerSec, 1), m.bench.cpuPct, max(0, m.otherCPU))
}

func (w *webrtcFanout) targets(b *strings.Builder, _ *report) {
	if !w.ran {
		return
	}
	ok := w.failed == 0 && w.stalls == 0 && w.badStamps == 0 && w.viewers >= 50
	fmt.Fprintf(b, "- **50 concurrent WebRTC viewers of one camera with no stalls**: %s — %d viewers, %d failed joins, %d stalls, %.1f fps each, "+
		"%.0f Mbit/s delivered (%.0f%% of ideal), TTFF p95 %s; Vigil %.1f%% CPU, %.0f MiB RSS (%.0f MiB without viewers).\n",
		verdict(ok), w.viewers, w.failed, w.stalls, w.fps, w.mbps, pct(w.mbps, w.idealMbps), ms(percentile(w.ttff, 95)),
		w.m.vigil.cpuPct, w.m.vigil.rssMiB, w.baseRSS)
}
