package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/chromedp/chromedp"

	"vigil/internal/chromium"
	"vigil/internal/loopback/tcppath"
)

// The poor link of issue 17: what a smart display on a weak Wi-Fi gets.
const (
	poorLinkKBps    = 100 // KB/s (1000 bytes), shared by the player's connections: 800 kbit/s
	poorLinkLatency = 150 * time.Millisecond
	// poorLinkPacket is the size of the pieces the link sends: a link
	// delivers a response a packet at a time at its rate. toxiproxy's
	// bandwidth toxic, before the slicer was put in front of it, held each
	// write it was given (up to 10 KB) for its whole transfer time and then
	// handed it over at once: a small LL-HLS part arrived within 2 ms of its
	// first byte, and hls.js, which rates a load from its first byte to its
	// last, estimated 6–15 Mbit/s on this link.
	poorLinkPacket = 1460
)

// Issue 17's aims for an HLS player on the poor link.
const (
	playersReadyTarget = 5 * time.Second // until playback is smooth on the sub stream
	playersStallTarget = 1.0             // seconds of stall per minute after that
	// playersSmoothSpan is how long playback must go without a stall to
	// count as smooth.
	playersSmoothSpan = 10 * time.Second
)

// players plays a camera's stream-token multivariant playlist with hls.js
// and Shaka Player in Chromium behind a link (tcppath) that holds Vigil's
// responses to 800 kbit/s shared by all the player's connections and 150 ms: the player should step down to the sub stream and play it
// without stalls.
type players struct {
	oneCamera
	runs     int
	play     time.Duration // per run
	dir      string        // the npm directory of the web players
	trace    string        // a directory for each run's report as JSON, or ""
	ran      bool
	chromium string
	mainH    int // picture heights of the main and sub clips
	subH     int
	results  []playersRun
	variants string // the multivariant playlist's streams, as listed
	cpu      webuiCPU
	load     [2]string // /proc/loadavg before and after
}

// playersRun is one run of the player, in the page's clock.
type playersRun struct {
	lib string // the player (chromium.PlayerLibs)
	p   chromium.PlayerRun
	poorRun
}

// poorRun is how one run behind the poor link went, in ms from its start.
type poorRun struct {
	onSub   float64       // first picture of the sub stream's height; 0 if none
	smooth  float64       // start of the first playersSmoothSpan without a stall
	stalled time.Duration // stall time after smooth
	after   time.Duration // played after smooth
	err     error
}

// ready is when playback was smooth and on the sub stream, in ms; 0 if
// it never was.
func (r poorRun) ready() float64 {
	if r.err != nil || r.onSub == 0 || r.after < playersSmoothSpan {
		return 0
	}
	return max(r.smooth, r.onSub)
}

// stallRate is the stall seconds per minute after playback was smooth.
func (r poorRun) stallRate() float64 {
	if r.after <= 0 {
		return 0
	}
	return r.stalled.Seconds() / r.after.Minutes()
}

// poorStats are runs' readiness times (runs that never got ready count
// as missing) and the worst stall rate.
func poorStats(runs []poorRun) (ready []time.Duration, missing int, worstStall float64) {
	for _, r := range runs {
		t := r.ready()
		if t == 0 {
			missing++
			continue
		}
		ready = append(ready, time.Duration(t*float64(time.Millisecond)))
		worstStall = max(worstStall, r.stallRate())
	}
	return ready, missing, worstStall
}

// secs writes ms as seconds, "–" for 0.
func secs(ms float64) string {
	if ms == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f s", ms/1000)
}

func (s *players) flags(fs *flag.FlagSet) {
	fs.IntVar(&s.runs, "players-runs", 0, "runs of each player behind the poor link (default 5; quick 2)")
	fs.DurationVar(&s.play, "players-play", 0, "how long each run plays (default 40s; quick 25s)")
	fs.StringVar(&s.trace, "players-trace", "", "write each run's page report (the players' bandwidth samples and estimates) as JSON into `DIR`")
	fs.StringVar(&s.dir, "players-dir", "internal/app/testdata/players", "`DIR` of the npm web players (scripts/deps.sh installs them)")
}

func (s *players) setDefaults(quick bool) error {
	s.runs = cmp.Or(s.runs, quickOr(quick, 2, 5))
	s.play = cmp.Or(s.play, quickOr(quick, 25*time.Second, 40*time.Second))
	if s.play < playersSmoothSpan+5*time.Second {
		return fmt.Errorf("-players-play %s: at least %s", s.play, playersSmoothSpan+5*time.Second)
	}
	return nil
}

// run publishes the 1080p clip as the first camera's main stream and the
// small clip as its sub stream, puts the poor link in front of Vigil's HTTP
// and plays a fresh stream token's multivariant URL through it s.runs
// times.
func (s *players) run(ctx context.Context, b *bench) error {
	log.Printf("  %d runs of each of %v, %s each, at %d kbit/s + %s", s.runs, chromium.PlayerLibs(), s.play, poorLinkKBps*8, poorLinkLatency)
	pages, err := chromium.PlayerServer(s.dir)
	if err != nil {
		return err
	}
	if s.mainH, err = clipHeight(b.big); err != nil {
		return err
	}
	if s.subH, err = clipHeight(b.small); err != nil {
		return err
	}
	v, d, stop, err := b.livePair(ctx, "players")
	if err != nil {
		return err
	}
	defer stop()
	link, err := poorLink(v.HTTP())
	if err != nil {
		return err
	}
	defer link.Close()
	pageURL, stopPages, err := serve(pages)
	if err != nil {
		return err
	}
	defer stopPages()
	tab, closeTab, err := startChromium(ctx, b.tmp)
	if err != nil {
		return err
	}
	defer closeTab()
	// The version needs a secure origin, as loopback is.
	if err := chromedp.Do(tab, chromedp.Navigate(pageURL+"/players/hls.js")); err != nil {
		return err
	}
	if s.chromium, err = chromiumVersion(tab); err != nil {
		return err
	}
	s.ran = true
	browser := 0
	if p := chromedp.FromContext(tab).Browser.Process(); p != nil {
		browser = p.Pid
	}
	if s.variants, err = listVariants(ctx, v, d); err != nil {
		return err
	}
	s.load[0] = loadAvg()
	cpu0 := sampleCPU(v.PID(), browser)
	for _, lib := range chromium.PlayerLibs() {
		for i := range s.runs {
			r := s.once(ctx, tab, v, d, pageURL, link.Addr(), lib)
			s.results = append(s.results, r)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s.writeTrace(lib, i+1, r.p)
			log.Printf("  %s run %d: first frame %.0f ms, on sub %.0f ms, smooth %.0f ms, %.2f s/min of stall after; heights %v; err %v",
				lib, i+1, r.p.FirstFrame, r.onSub, r.smooth, r.stallRate(), r.p.Heights, r.err)
		}
	}
	s.cpu = cpu0.until(sampleCPU(v.PID(), browser))
	s.load[1] = loadAvg()
	return nil
}

// once plays a fresh token's HLS URL through the poor link for s.play.
func (s *players) once(ctx context.Context, tab context.Context, v *vigil, d device, pageURL, linkAddr, lib string) playersRun {
	r := playersRun{lib: lib}
	// A blank page first: the previous run's requests end and leave the
	// link empty.
	if err := chromedp.Do(tab, chromedp.Navigate("about:blank")); err != nil {
		r.err = err
		return r
	}
	sleep(ctx, 2*time.Second)
	hlsPath, err := mintHLS(ctx, v, d)
	if err != nil {
		r.err = err
		return r
	}
	src := "http://" + linkAddr + hlsPath
	if err := chromedp.Do(tab, chromedp.Navigate(pageURL+"/play/"+lib+"?src="+url.QueryEscape(src))); err != nil {
		r.err = err
		return r
	}
	if !sleep(ctx, s.play) {
		r.err = ctx.Err()
		return r
	}
	if r.p, err = chromedp.Run(tab, chromedp.Evaluate[chromium.PlayerRun](chromium.PlayerRunJS)); err != nil {
		r.err = err
		return r
	}
	if len(r.p.Errors) > 0 {
		r.err = fmt.Errorf("player errors: %v", r.p.Errors)
	}
	for _, h := range r.p.Heights {
		if int(h[1]) == s.subH {
			r.onSub = h[0]
			break
		}
	}
	r.smooth, r.stalled = r.p.Smooth(playersSmoothSpan)
	r.after = time.Duration((r.p.Now - r.smooth) * float64(time.Millisecond))
	return r
}

// writeTrace writes a run's page report into s.trace, with -players-trace.
func (s *players) writeTrace(lib string, run int, p chromium.PlayerRun) {
	if s.trace == "" {
		return
	}
	b, err := json.Marshal(p)
	if err == nil {
		err = os.WriteFile(filepath.Join(s.trace, fmt.Sprintf("%s-%d.json", lib, run)), b, 0o644)
	}
	if err != nil {
		log.Printf("  players trace: %v", err)
	}
}

// mintHLS mints a stream token for camera d's adaptive set as the admin
// and returns its HLS URL's path (the multivariant playlist).
func mintHLS(ctx context.Context, v *vigil, d device) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, v.apiURL(d, "tokens"), nil)
	if err != nil {
		return "", err
	}
	req.SetBasicAuth("admin", v.AdminPassword())
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	var tok struct {
		URLs map[string]string `json:"urls"`
	}
	if err := json.Unmarshal(body, &tok); res.StatusCode != http.StatusOK || err != nil || tok.URLs["hls"] == "" {
		return "", fmt.Errorf("mint a stream token: %s %q", res.Status, truncate(string(body), 200))
	}
	return tok.URLs["hls"], nil
}

// listVariants describes the streams of camera d's multivariant playlist
// in the order it lists them (what a player picks from).
func listVariants(ctx context.Context, v *vigil, d device) (string, error) {
	hlsPath, err := mintHLS(ctx, v, d)
	if err != nil {
		return "", err
	}
	c := v.webClient(1)
	defer c.close()
	body, _, err := c.get(ctx, "http://"+v.HTTP()+hlsPath)
	if err != nil {
		return "", err
	}
	var mv playlist.Multivariant
	if err := mv.Unmarshal(body); err != nil {
		return "", fmt.Errorf("multivariant playlist: %w", err)
	}
	var out []string
	for _, vr := range mv.Variants {
		out = append(out, fmt.Sprintf("%s BANDWIDTH=%d", vr.Resolution, vr.Bandwidth))
	}
	return strings.Join(out, ", then "), nil
}

// poorLink is a link in front of addr whose downstream (towards the
// client) shares poorLinkKBps among all its connections, a poorLinkPacket
// at a time, then is delayed by poorLinkLatency.
func poorLink(addr string) (*tcppath.Link, error) {
	return tcppath.Listen(addr, tcppath.Shape{RateKB: poorLinkKBps, Latency: poorLinkLatency, Packet: poorLinkPacket})
}

// serve serves h on a loopback port and returns its URL.
func serve(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}

// clipHeight is the picture height in the SPS of c's first unit.
func clipHeight(c clip) (int, error) {
	for _, n := range c.units[0].NALUs {
		if len(n) > 0 && h264.NALUType(n[0]&0x1f) == h264.NALUTypeSPS {
			var sps h264.SPS
			if err := sps.Unmarshal(n); err != nil {
				return 0, fmt.Errorf("%s: SPS: %w", c.name, err)
			}
			return sps.Height(), nil
		}
	}
	return 0, errors.New(c.name + ": no SPS in the first unit")
}

// loadAvg is the machine's /proc/loadavg load averages (1, 5, 15 min).
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "n/a"
}

// stats are poorStats of lib's runs.
func (s *players) stats(lib string) (ready []time.Duration, missing int, worstStall float64) {
	var runs []poorRun
	for _, r := range s.results {
		if r.lib == lib {
			runs = append(runs, r.poorRun)
		}
	}
	return poorStats(runs)
}

func (s *players) section(b *strings.Builder, r *report) {
	if !s.ran {
		return
	}
	b.WriteString("## HLS on a poor network: hls.js and Shaka Player in Chromium at 800 kbit/s + 150 ms\n\n")
	fmt.Fprintf(b, "%s (headless, software decoding) opens a page served on loopback that plays, with hls.js %s and then Shaka Player %s, the "+
		"multivariant HLS URL of a fresh stream token for the camera's adaptive set (`POST /api/cameras/{id}/tokens` "+
		"as the admin, no stream named: main and sub). Main is the 1080p clip (%.1f Mbit/s, %d lines), sub the small "+
		"clip (%.2f Mbit/s, %d lines), both GOP %s; the multivariant playlist lists %s. Every request to Vigil passes a link (`tcppath`, a proxy in the bench) whose downstream (Vigil to "+
		"the player) is cut into packets of at most %d bytes that take turns, packet by packet, on one %d kbit/s rate (%d KB/s) shared by all the "+
		"player's connections, as a home link's air time is, and then are delayed %s (a response's bytes arrive spread over its transfer time); "+
		"before, a toxiproxy capped each connection on its own, so that a player loading three parts at once on three connections got three times "+
		"the rate. The player's own "+
		"script comes straight from the page's server. Each run starts from a blank page, plays %s and reads the page's "+
		"report: first frame, the picture heights as they change, and every `waiting` from the start of playback to "+
		"the next `playing` (a stall; under %d ms not counted). Smooth from is the start of the first %s without a "+
		"stall; ready is when playback was smooth and on the sub stream (the later of smooth from and the first "+
		"picture of sub's height), in the page's clock from navigation; stall after is the stall seconds per minute "+
		"from then to the end. CPU is over all runs, pauses included, in %% of one core; the machine's load average "+
		"was %s before and %s after (1, 5, 15 min; 2 cores shared with other work).\n\n",
		s.chromium, playerVersion(s.dir, "hls.js"), playerVersion(s.dir, "shaka-player"), r.big.mbps, s.mainH, r.small.mbps, s.subH, gopDuration(r.big), s.variants,
		poorLinkPacket, poorLinkKBps*8, poorLinkKBps, poorLinkLatency, s.play, chromium.MinStall, playersSmoothSpan, s.load[0], s.load[1])
	b.WriteString("| player | run | first frame | on sub from | smooth from | ready | stall after (s/min) | played after ready | heights (ms: lines) | variant loaded (ms: lines) | estimate at 10 s, 20 s, end (kbit/s) | dropped frames | errors |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|---:|---|\n")
	sec := secs
	runNo := map[string]int{}
	for _, run := range s.results {
		runNo[run.lib]++
		var hs []string
		for _, h := range run.p.Heights {
			hs = append(hs, fmt.Sprintf("%.0f: %.0f", h[0], h[1]))
		}
		errText := ""
		if run.err != nil {
			errText = truncate(run.err.Error(), 120)
		}
		fmt.Fprintf(b, "| %s | %d | %s | %s | %s | %s | %.2f | %s | %s | %s | %s | %s | %s |\n", run.lib, runNo[run.lib], sec(run.p.FirstFrame), sec(run.onSub),
			sec(run.smooth), sec(run.ready()), run.stallRate(), run.after.Round(time.Second), strings.Join(hs, ", "), variantsLoaded(run.p),
			estimatesAt(run.p, 10_000, 20_000, run.p.Now), droppedFrames(run.p), errText)
	}
	b.WriteString("\n")
	for _, lib := range chromium.PlayerLibs() {
		ready, missing, worst := s.stats(lib)
		fmt.Fprintf(b, "%s: ready p50 %s, p95 %s, max %s over %d of %d runs (%d never smooth on sub); worst stall after ready %.2f s/min. ",
			lib, sec(float64(percentile(ready, 50).Milliseconds())), sec(float64(percentile(ready, 95).Milliseconds())),
			sec(float64(percentile(ready, 100).Milliseconds())), len(ready), len(ready)+missing, missing, worst)
	}
	fmt.Fprintf(b, "CPU: Vigil %.1f%%, Chromium %s%%, other %s%%.\n\n", s.cpu.vigil, num(s.cpu.chromium, 0), num(s.cpu.other, 0))
}

func (s *players) targets(b *strings.Builder, _ *report) {
	if !s.ran {
		return
	}
	for _, lib := range chromium.PlayerLibs() {
		ready, missing, worst := s.stats(lib)
		p95 := percentile(ready, 95)
		ok := missing == 0 && len(ready) > 0 && p95 < playersReadyTarget && worst < playersStallTarget
		fmt.Fprintf(b, "- **HLS player at 800 kbit/s + 150 ms: smooth on the sub stream within 5 s, < 1 s of stall per minute after**: "+
			"%s — %s ready p50 %.1f s, p95 %.1f s over %d runs (%d never), worst %.2f s/min of stall after.\n",
			verdict(ok), lib, percentile(ready, 50).Seconds(), p95.Seconds(), len(ready)+missing, missing, worst)
	}
}

// estimatesAt is the player's bandwidth estimate at each of the times (ms),
// in kbit/s: the last the page recorded by then.
func estimatesAt(p chromium.PlayerRun, at ...float64) string {
	var out []string
	for _, t := range at {
		e := "–"
		for _, x := range p.Estimates {
			if x[0] <= t && x[1] > 0 {
				e = fmt.Sprintf("%.0f", x[1]/1000)
			}
		}
		out = append(out, e)
	}
	return strings.Join(out, ", ")
}

// variantsLoaded lists the heights of the variant the player loads, as it
// changes: a switch shows here before its pictures do, and a switch whose
// pictures never come (Shaka's to main on this link) only here.
func variantsLoaded(p chromium.PlayerRun) string {
	var out []string
	last := 0.0
	for _, e := range p.Estimates {
		if e[2] > 0 && e[2] != last {
			out = append(out, fmt.Sprintf("%.0f: %.0f", e[0], e[2]))
			last = e[2]
		}
	}
	return strings.Join(out, ", ")
}

// droppedFrames is the video's dropped frames of its total at the end, and
// the worst share dropped in a 2 s window: what Shaka's ABR checks (it
// bans the stream it plays for 30 s at 15 %, and the only other is main).
func droppedFrames(p chromium.PlayerRun) string {
	es := p.Estimates
	if len(es) == 0 {
		return "–"
	}
	worst := 0.0
	for i, e := range es {
		for j := i + 1; j < len(es); j++ {
			if es[j][0]-e[0] >= 2000 {
				if total := es[j][4] - e[4]; total > 0 {
					worst = max(worst, (es[j][3]-e[3])/total)
				}
				break
			}
		}
	}
	last := es[len(es)-1]
	return fmt.Sprintf("%.0f of %.0f (worst 2 s: %.0f %%)", last[3], last[4], worst*100)
}

// playerVersion is the version of the npm package pkg installed in dir,
// from its package.json.
func playerVersion(dir, pkg string) string {
	b, err := os.ReadFile(filepath.Join(dir, "node_modules", pkg, "package.json"))
	var meta struct {
		Version string `json:"version"`
	}
	if err != nil || json.Unmarshal(b, &meta) != nil || meta.Version == "" {
		return "(version unknown)"
	}
	return meta.Version
}
