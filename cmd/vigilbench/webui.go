package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/chromedp/chromedp"

	"vigil/internal/chromium"
)

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

// webuiResult is the web page scenario: clicks on a camera's card in
// Chromium, timed to the first frame the live view presents.
type webuiResult struct {
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

// runWebUI publishes the 1080p clip from one camera, signs in to Vigil's
// page in Chromium as the admin and clicks the camera's card
// opts.webuiClicks times over WebRTC, then as many times with WebRTC
// taken from the page, over the MP4 fallback.
func (b *bench) runWebUI(ctx context.Context) (webuiResult, error) {
	res := webuiResult{webrtc: webuiPath{via: viaWebRTC}, mp4: webuiPath{via: viaMP4}}
	v, d, stop, err := b.liveBig(ctx, "webui")
	if err != nil {
		return res, err
	}
	defer stop()
	lastKey, stopKeys, err := trackKeyframes(ctx, v.readURL(d))
	if err != nil {
		return res, err
	}
	defer stopKeys()
	tab, closeTab, err := startChromium(ctx, b.tmp)
	if err != nil {
		return res, err
	}
	defer closeTab() // before stop: Vigil waits for the page's open streams
	if err := signIn(tab, "http://"+v.http+"/", "admin", v.adminPW, d.ID); err != nil {
		return res, err
	}
	if res.chromium, err = chromiumVersion(tab); err != nil {
		return res, err
	}
	log.Printf("  %s", res.chromium)
	browser := 0
	if p := chromedp.FromContext(tab).Browser.Process(); p != nil {
		browser = p.Pid
	}
	gop := gopDuration(b.big)
	for i, p := range []*webuiPath{&res.webrtc, &res.mp4} {
		if p.via == viaMP4 {
			if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](`(() => { window.RTCPeerConnection = undefined; return true; })()`)); err != nil {
				return res, fmt.Errorf("take WebRTC from the page: %w", err)
			}
		}
		cpu0 := sampleCPU(v.pid, browser)
		for range b.opts.webuiClicks {
			c, err := clickToFrame(tab, d.ID, lastKey)
			if err != nil && ctx.Err() == nil {
				log.Printf("  click failed (%s): %v", p.via, err)
			}
			p.clicks = append(p.clicks, c)
			if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](closeViewerJS)); err != nil {
				return res, fmt.Errorf("close the live view: %w", err)
			}
			// A random part of a GOP on top, so that clicks land at every
			// point of it: a fixed pause would alias with the GOP.
			if !sleep(ctx, webuiPause+rand.N(gop)) {
				return res, ctx.Err()
			}
		}
		res.cpus[i] = cpu0.until(sampleCPU(v.pid, browser))
		s := p.stats()
		log.Printf("  %s: clicks=%d failed=%d other_path=%d p50=%s p95=%s max=%s",
			p.via, s.clicks, s.failed, s.otherVia, ms(s.p50), ms(s.p95), ms(s.max))
	}
	return res, nil
}

// startChromium starts a headless Chromium with a fresh profile under dir
// and its output in dir/chromium.log, and returns a tab in it; closeTab
// closes the browser and waits for it.
func startChromium(ctx context.Context, dir string) (tab context.Context, closeTab func(), err error) {
	profile, err := os.MkdirTemp(dir, "chromium-")
	if err != nil {
		return nil, nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "chromium.log"))
	if err != nil {
		return nil, nil, err
	}
	tab, stop, err := chromium.Start(ctx, profile, logf)
	if err != nil {
		logf.Close()
		return nil, nil, fmt.Errorf("%w; log tail:\n%s", err, tail(logf.Name(), 20))
	}
	return tab, func() { stop(); logf.Close() }, nil
}

// chromiumVersionJS names the browser, e.g. "Chromium 156.0.8078.79"
// (navigator.userAgentData is only there on a secure origin, such as
// loopback).
const chromiumVersionJS = `navigator.userAgentData.getHighEntropyValues(["fullVersionList"]).then((h) =>
	h.fullVersionList.filter((b) => /Chrom/.test(b.brand)).map((b) => b.brand + " " + b.version).join(", "))`

func chromiumVersion(tab context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(tab, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](chromiumVersionJS, chromedp.EvalAwaitPromise))
	if err != nil {
		return "", fmt.Errorf("chromium version: %w", err)
	}
	return s, nil
}

// signIn signs in to the page and waits until the grid shows camera id.
func signIn(tab context.Context, pageURL, user, pw, id string) error {
	if err := chromium.SignIn(tab, pageURL, user, pw); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(tab, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(cardSelector(id)))); err != nil {
		return fmt.Errorf("the grid shows no camera %s: %w", id, err)
	}
	return nil
}

// cardSelector selects the button that opens camera id's live view.
func cardSelector(id string) string { return `#grid li[data-id="` + id + `"] button.open` }

// armClickJS resets #via and, at the next click event anywhere in the
// page (a capture listener, so before the card's own handler), records the
// time and asks the video for its next presented frame. The page keeps
// one <video> for every view, so the callback is for this view's frames.
const armClickJS = `(() => {
	const v = document.getElementById("video");
	const via = document.getElementById("via");
	via.textContent = "";
	let presented;
	const c = window.click_ = {clicked: 0, first: 0, via: "", width: 0, height: 0,
		frame: new Promise((ok) => { presented = ok; })};
	document.addEventListener("click", () => {
		c.clicked = performance.now();
		v.requestVideoFrameCallback((now, m) => {
			c.first = performance.now();
			c.via = via.textContent;
			c.width = m.width;
			c.height = m.height;
			presented();
		});
	}, {capture: true, once: true});
	return true;
})()`

// closeViewerJS closes the live view with its Close button, if it is open.
const closeViewerJS = `(() => {
	const d = document.getElementById("viewer");
	if (d.open) document.getElementById("viewer-close").click();
	return !d.open;
})()`

// clickJS is what the armed click recorded, once the first frame came or
// the limit passed (first is 0 then).
var clickJS = fmt.Sprintf(`Promise.race([click_.frame, new Promise((ok) => setTimeout(ok, %d))]).then(() => ({
	clicked: click_.clicked, first: click_.first, via: click_.via, width: click_.width, height: click_.height,
	state: document.getElementById("state").textContent}))`, webuiFrameLimit.Milliseconds())

type clickRecord struct {
	Clicked float64 `json:"clicked"` // performance.now(), ms
	First   float64 `json:"first"`
	Via     string  `json:"via"`
	Width   int     `json:"width"`
	Height  int     `json:"height"`
	State   string  `json:"state"` // the live view's state line
}

// clickToFrame clicks camera id's card and waits for the live view's first
// presented frame; lastKey tells when the camera's last keyframe came.
func clickToFrame(tab context.Context, id string, lastKey func() time.Time) (webuiClick, error) {
	ctx, cancel := context.WithTimeout(tab, webuiFrameLimit+10*time.Second)
	defer cancel()
	var c webuiClick
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](armClickJS)); err != nil {
		c.err = fmt.Errorf("arm: %w", err)
		return c, c.err
	}
	c.phase = time.Since(lastKey())
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(cardSelector(id)))); err != nil {
		c.err = fmt.Errorf("click: %w", err)
		return c, c.err
	}
	r, err := chromedp.Run(ctx, chromedp.Evaluate[clickRecord](clickJS, chromedp.EvalAwaitPromise))
	switch {
	case err != nil:
		c.err = fmt.Errorf("wait for the first frame: %w", err)
	case r.Clicked == 0:
		c.err = errors.New("the click never reached the page")
	case r.First == 0:
		c.err = fmt.Errorf("no frame in %s (via %q, state %q)", webuiFrameLimit, strings.TrimSpace(r.Via), r.State)
	default:
		c.ttff = time.Duration((r.First - r.Clicked) * float64(time.Millisecond))
		c.via, c.width, c.height = r.Via, r.Width, r.Height
	}
	return c, c.err
}

// trackKeyframes watches rawURL over RTSP until the first new keyframe
// arrives; from then on lastKey returns when the last one arrived.
func trackKeyframes(ctx context.Context, rawURL string) (lastKey func() time.Time, stop func(), err error) {
	keys, stopWatch, err := watchKeyframes(rawURL)
	if err != nil {
		return nil, nil, fmt.Errorf("watch keyframes: %w", err)
	}
	// The first keyframe is the GOP cache's replay: it is not new.
	for range 2 {
		select {
		case <-ctx.Done():
			stopWatch()
			return nil, nil, ctx.Err()
		case <-time.After(5 * time.Second):
			stopWatch()
			return nil, nil, errors.New("watch keyframes: none in 5 s")
		case <-keys:
		}
	}
	var last atomic.Int64 // unix nanos
	last.Store(time.Now().UnixNano())
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-keys:
				last.Store(time.Now().UnixNano())
			}
		}
	}()
	stop = func() { cancel(); <-done; stopWatch() }
	return func() time.Time { return time.Unix(0, last.Load()) }, stop, nil
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
