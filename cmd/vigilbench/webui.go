package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"log"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/chromedp/chromedp"

	"vigil/internal/vigilproc"
)

// webuiTTFFTarget is the target for a click on the owner's page.
const webuiTTFFTarget = 300 * time.Millisecond

const (
	// webuiFrameLimit is how long one click may wait for its first frame
	// before it counts as failed.
	webuiFrameLimit = 10 * time.Second
	// webuiPause is the pause between closing the live view and the next click.
	webuiPause = 300 * time.Millisecond
)

// The page's two ways of playing, as its #via shows them.
const (
	viaWebRTC = "WebRTC"
	viaMP4    = "MP4"
)

// webUI clicks a camera's card on the owner's page in Chromium and times
// each click to the first frame the live view presents.
type webUI struct {
	oneCamera
	clicks   int // per path
	ran      bool
	chromium string      // Chromium's version
	webrtc   webuiPath   // the page as it is
	mp4      webuiPath   // with RTCPeerConnection taken away: the MP4 fallback
	cpus     [2]webuiCPU // over the WebRTC and the MP4 clicks
}

// webuiPath is one way of playing: the clicks made and what they showed.
type webuiPath struct {
	via    string // what #via should show
	clicks []webuiClick
}

// webuiClick is one click on the camera's card.
type webuiClick struct {
	ttff          time.Duration // click event → first presented frame, in the page's clock
	phase         time.Duration // since the camera's last keyframe reached an RTSP viewer, at the click
	via           string        // #via when the first frame was presented
	width, height int           // of that frame
	err           error         // no frame within webuiFrameLimit, or the page failed
	detail        string        // where the time went (WebRTC), for the log
}

// webuiCPU is what the machine did while one path's clicks ran, each in %
// of one core.
type webuiCPU struct {
	vigil    float64
	chromium float64 // the browser and its renderer and helper processes
	other    float64 // the machine's busy CPU minus Vigil's, Chromium's and the generator's
}

// webuiStats summarises one path's clicks.
type webuiStats struct {
	clicks, failed, otherVia int
	p50, p95, max, first     time.Duration // over the clicks played via the path
	size                     string        // frame size of the first good click
}

// stats counts the clicks that failed and those played via another path,
// and takes percentiles over the rest.
func (p webuiPath) stats() webuiStats {
	s := webuiStats{clicks: len(p.clicks)}
	var ok []time.Duration
	for i, c := range p.clicks {
		switch {
		case c.err != nil:
			s.failed++
		case c.via != p.via:
			s.otherVia++
		default:
			if len(ok) == 0 {
				s.size = fmt.Sprintf("%d×%d", c.width, c.height)
			}
			if i == 0 {
				s.first = c.ttff
			}
			ok = append(ok, c.ttff)
		}
	}
	s.p50, s.p95, s.max = percentile(ok, 50), percentile(ok, 95), percentile(ok, 100)
	return s
}

// webuiSlow is what one path's clicks over a limit have in common.
type webuiSlow struct {
	n                  int           // clicks that got a frame, via the path, after more than the limit
	phaseMin, phaseMax time.Duration // their phases
	// sinceKey is the median of their times plus their phases: from the
	// keyframe to the first frame. The median, because a click just before
	// a keyframe may find the new one in the cache when its request arrives.
	sinceKey time.Duration
}

// over describes the clicks played via the path that took longer than limit.
func (p webuiPath) over(limit time.Duration) webuiSlow {
	var s webuiSlow
	var sums []time.Duration
	for _, c := range p.clicks {
		if c.err != nil || c.via != p.via || c.ttff <= limit {
			continue
		}
		if len(sums) == 0 {
			s.phaseMin, s.phaseMax = c.phase, c.phase
		}
		sums = append(sums, c.ttff+c.phase)
		s.phaseMin, s.phaseMax = min(s.phaseMin, c.phase), max(s.phaseMax, c.phase)
	}
	s.n, s.sinceKey = len(sums), percentile(sums, 50)
	return s
}

func (w *webUI) flags(fs *flag.FlagSet) {
	fs.IntVar(&w.clicks, "webui-clicks", 0, "clicks on the web page's camera card in Chromium, per path (default 30; quick 10)")
}

func (w *webUI) setDefaults(quick bool) error {
	w.clicks = cmp.Or(w.clicks, quickOr(quick, 10, 30))
	return nil
}

// run publishes the 1080p clip from one camera, signs in to Vigil's page
// in Chromium as the admin and clicks the camera's card w.clicks times
// over WebRTC, then as many times with WebRTC taken from the page, over
// the MP4 fallback.
func (w *webUI) run(ctx context.Context, b *bench) error {
	log.Printf("  %d clicks per path in Chromium", w.clicks)
	w.webrtc, w.mp4 = webuiPath{via: viaWebRTC}, webuiPath{via: viaMP4}
	v, d, stop, err := b.live(ctx, "webui", b.big, vigilproc.Config{})
	if err != nil {
		return err
	}
	defer stop()
	lastKey, stopKeys, err := trackKeyframes(ctx, v.readURL(d))
	if err != nil {
		return err
	}
	defer stopKeys()
	tab, closeTab, err := startChromium(ctx, b.tmp)
	if err != nil {
		return err
	}
	defer closeTab() // before stop: Vigil waits for the page's open streams
	if err := signIn(tab, "http://"+v.HTTP()+"/", "admin", v.AdminPassword(), d.ID); err != nil {
		return err
	}
	if w.chromium, err = chromiumVersion(tab); err != nil {
		return err
	}
	w.ran = true
	log.Printf("  %s", w.chromium)
	browser := 0
	if p := chromedp.FromContext(tab).Browser.Process(); p != nil {
		browser = p.Pid
	}
	for i, p := range []*webuiPath{&w.webrtc, &w.mp4} {
		if p.via == viaMP4 {
			if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](`(() => { window.RTCPeerConnection = undefined; return true; })()`)); err != nil {
				return fmt.Errorf("take WebRTC from the page: %w", err)
			}
		}
		cpu0 := sampleCPU(v.PID(), browser)
		err := w.clickAll(ctx, tab, p, d.ID, lastKey, gopDuration(b.big))
		w.cpus[i] = cpu0.until(sampleCPU(v.PID(), browser))
		if err != nil {
			return err
		}
		s := p.stats()
		log.Printf("  %s: clicks=%d failed=%d other_path=%d p50=%s p95=%s max=%s",
			p.via, s.clicks, s.failed, s.otherVia, ms(s.p50), ms(s.p95), ms(s.max))
	}
	return nil
}

// clickAll clicks camera id's card w.clicks times over path p, closing
// the live view after each.
func (w *webUI) clickAll(ctx, tab context.Context, p *webuiPath, id string, lastKey func() time.Time, gop time.Duration) error {
	for range w.clicks {
		c, err := clickToFrame(tab, id, lastKey)
		if err != nil && ctx.Err() == nil {
			log.Printf("  click failed (%s): %v", p.via, err)
		}
		if err == nil && c.detail != "" {
			log.Printf("  click %d: %s, phase %s: %s", len(p.clicks)+1, ms(c.ttff), ms(c.phase), c.detail)
		}
		p.clicks = append(p.clicks, c)
		if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](closeViewerJS)); err != nil {
			return fmt.Errorf("close the live view: %w", err)
		}
		// A random part of a GOP on top, so that clicks land at every
		// point of it: a fixed pause would alias with the GOP.
		if !sleep(ctx, webuiPause+rand.N(gop)) {
			return ctx.Err()
		}
	}
	return nil
}

// cpuSample is Vigil's, Chromium's, this process's and the machine's CPU
// counters.
type cpuSample struct {
	vigil, bench procSample
	chromium     uint64 // ticks of the browser's process tree
	busy         uint64
}

func sampleCPU(vigilPID, browserPID int) cpuSample {
	var s cpuSample
	s.vigil, _ = sampleProc(vigilPID)
	s.bench, _ = sampleProc(os.Getpid())
	s.chromium = treeTicks(browserPID)
	s.busy, _ = machineBusy()
	return s
}

// until is the CPU spent from s to e.
func (s cpuSample) until(e cpuSample) webuiCPU {
	secs := e.vigil.at.Sub(s.vigil.at).Seconds()
	if secs <= 0 {
		return webuiCPU{}
	}
	pct := func(from, to uint64) float64 {
		if to < from { // a process of the tree exited, taking its ticks along
			return math.NaN()
		}
		return 100 * float64(to-from) / clockTicks / secs
	}
	c := webuiCPU{vigil: usageBetween(s.vigil, e.vigil).cpuPct, chromium: pct(s.chromium, e.chromium)}
	bench := usageBetween(s.bench, e.bench).cpuPct
	c.other = max(0, pct(s.busy, e.busy)-c.vigil-c.chromium-bench)
	return c
}

func (w *webUI) section(b *strings.Builder, r *report) {
	if !w.ran {
		return
	}
	b.WriteString("## Web page: click to first frame in Chromium\n\n")
	fmt.Fprintf(b, "%s (headless, `--disable-gpu`: software decoding) opens the owner's page that Vigil serves at `/` on loopback "+
		"and signs in once as the admin. Then it clicks the 1080p camera's card (%.1f Mbit/s, GOP %s) %d times: each "+
		"time is from the click event (`performance.now()` in a capture listener, before the card's own handler) to the "+
		"first frame the live view's `<video>` presents (`requestVideoFrameCallback`), in the page's clock. Then it closes "+
		"the live view and waits %s plus a random part of a GOP, so that clicks land at every point of the GOP (a fixed "+
		"pause would alias with it). The time includes all the page does: over WebRTC, the peer connection, its host candidates (the page posts its offer 20 ms after the last, not at the end of ICE gathering), "+
		"the WHEP POST, ICE and DTLS, and decoding the cached keyframe; over MP4 (`window.RTCPeerConnection` taken away, "+
		"so the page falls back to progressive MP4), the fetch of `live.mp4` and the media pipeline's start. A click fails "+
		"when no frame comes within %s; other path counts clicks whose `#via` was not the path's. First click is the "+
		"page's first live view over the path. A click's phase is the time since the camera's last keyframe reached an "+
		"RTSP viewer of it, when the click came: how old the GOP cache's keyframe was. CPU is over the path's clicks, "+
		"pauses included, in %% of one core: Chromium's is its browser, renderer and helper processes; other is the "+
		"machine's busy time minus Vigil's, Chromium's and the generator's (other processes on the machine).\n\n",
		w.chromium, r.big.mbps, gopDuration(r.big), w.clicks, webuiPause, webuiFrameLimit)
	b.WriteString("| path | clicks | failed | other path | p50 | p95 | max | first click | frame | Vigil CPU % | Chromium CPU % | other CPU % |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|\n")
	paths := []webuiPath{w.webrtc, w.mp4}
	for i, p := range paths {
		s := p.stats()
		fmt.Fprintf(b, "| %s | %d | %d | %d | %s | %s | %s | %s | %s | %.1f | %s | %s |\n",
			p.via, s.clicks, s.failed, s.otherVia, ms(s.p50), ms(s.p95), ms(s.max), ms(s.first), s.size,
			w.cpus[i].vigil, num(w.cpus[i].chromium, 0), num(w.cpus[i].other, 0))
	}
	var slow []string
	for _, p := range paths {
		o := p.over(webuiTTFFTarget)
		if o.n == 0 {
			continue
		}
		slow = append(slow, fmt.Sprintf("%s: %d of %d clicks took over %s; their phases were %s to %s, and their "+
			"first frame came a median %s after the keyframe (time plus phase).", p.via, o.n, len(p.clicks),
			webuiTTFFTarget, ms(o.phaseMin), ms(o.phaseMax), ms(o.sinceKey)))
	}
	notes(b, slow)
}

func (w *webUI) targets(b *strings.Builder, _ *report) {
	if !w.ran {
		return
	}
	line := func(name string, p webuiPath) string {
		s := p.stats()
		ok := s.clicks > 0 && s.failed == 0 && s.otherVia == 0 && s.p95 < webuiTTFFTarget
		return fmt.Sprintf("%s %s — p50 %s, p95 %s, %d of %d clicks failed or played via the other path",
			name, verdict(ok), ms(s.p50), ms(s.p95), s.failed+s.otherVia, s.clicks)
	}
	fmt.Fprintf(b, "- **Click to first decoded frame in Chromium on loopback p95 < 300 ms**: %s; %s (%s).\n",
		line("WebRTC", w.webrtc), line("MP4 fallback", w.mp4), w.chromium)
}
