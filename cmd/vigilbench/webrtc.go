package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"strings"
	"sync"
	"time"

	"vigil/internal/sim"
)

// webrtcStallGap is the pause between two frames that counts as a stall
// for a WebRTC viewer.
const webrtcStallGap = 500 * time.Millisecond

// webrtcResult is the WebRTC fan-out scenario: one camera, N viewers
// joined over WHEP, measured over a steady-state window.
type webrtcResult struct {
	viewers   int
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

// runWebRTC publishes the 1080p clip from one camera and joins
// opts.webrtcViewers pion viewers to it over WHEP, ten at a time.
func (b *bench) runWebRTC(ctx context.Context) (webrtcResult, error) {
	n := b.opts.webrtcViewers
	res := webrtcResult{viewers: n, idealMbps: b.big.mbps * float64(n)}
	v, d, stop, err := b.liveBig(ctx, "webrtc", fmt.Sprintf("VIGIL_WEBRTC_MAX_SESSIONS_PER_USER=%d", n))
	if err != nil {
		return res, err
	}
	defer stop()
	sleep(ctx, b.opts.warmup)
	if p, err := sampleProc(v.pid); err == nil {
		res.baseRSS = float64(p.rssKiB) / 1024
	}
	viewers := b.joinWebRTC(ctx, v, d, n, &res)
	defer func() {
		for _, w := range viewers {
			w.Close()
		}
	}()
	sleep(ctx, b.opts.warmup)
	t0 := webrtcTally(viewers)
	m, err := measure(ctx, v, nil, b.opts.window)
	if err != nil {
		return res, err
	}
	res.m = m
	res.window(viewers, t0, webrtcTally(viewers))
	for _, w := range viewers {
		if err := w.Checker().Only(d.ID); err != nil {
			res.badStamps++
		}
	}
	log.Printf("  viewers=%d failed=%d delivered=%.0f Mbit/s fps/viewer=%.1f stalls=%d vigil_cpu=%.0f%% rss=%.0f MiB bench_cpu=%.0f%%",
		n, res.failed, res.mbps, res.fps, res.stalls, m.vigil.cpuPct, m.vigil.rssMiB, m.bench.cpuPct)
	return res, nil
}

// joinWebRTC joins n viewers, ten at a time, recording their time to first
// frame; it returns those that joined.
func (b *bench) joinWebRTC(ctx context.Context, v *vigil, d device, n int, res *webrtcResult) []*sim.WebRTCViewer {
	var mu sync.Mutex
	var out []*sim.WebRTCViewer
	var wg sync.WaitGroup
	slots := make(chan struct{}, 10)
	for range n {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			w, ttff, err := whepJoin(ctx, v, d, b.secret)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				log.Printf("  WHEP join failed: %v", err)
				res.failed++
				return
			}
			out = append(out, w)
			res.ttff = append(res.ttff, ttff)
			if st := w.Stats(); !st.FirstKey || !st.FirstParams {
				res.notKey++
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
	answer, t0, err := postOffer(ctx, v, d, w)
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

// postOffer posts w's offer and returns the answer and when the POST began.
func postOffer(ctx context.Context, v *vigil, d device, w *sim.WebRTCViewer) (string, time.Time, error) {
	offer, err := w.Offer(ctx)
	if err != nil {
		return "", time.Time{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, v.apiURL(d, "whep"), strings.NewReader(offer))
	if err != nil {
		return "", time.Time{}, err
	}
	req.Header.Set("Content-Type", "application/sdp")
	req.SetBasicAuth("admin", v.adminPW)
	t0 := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", t0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err == nil && resp.StatusCode != http.StatusCreated {
		err = fmt.Errorf("WHEP: %s %q", resp.Status, body)
	}
	return string(body), t0, err
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
func (r *webrtcResult) window(ws []*sim.WebRTCViewer, a, b webrtcSnapshot) {
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
