package main

import (
	"fmt"
	"strings"
	"time"
)

// webuiTTFFTarget is the target for a click on the owner's page.
const webuiTTFFTarget = 300 * time.Millisecond

// webuiSection is the table of clicks on the owner's page in Chromium.
func (r *report) webuiSection(b *strings.Builder) {
	w := r.webui
	if w == nil {
		return
	}
	b.WriteString("## Web page: click to first frame in Chromium\n\n")
	fmt.Fprintf(b, "%s (headless, `--disable-gpu`: software decoding) opens the owner's page that Vigil serves at `/` on loopback "+
		"and signs in once as the admin. Then it clicks the 1080p camera's card (%.1f Mbit/s, GOP %s) %d times: each "+
		"time is from the click event (`performance.now()` in a capture listener, before the card's own handler) to the "+
		"first frame the live view's `<video>` presents (`requestVideoFrameCallback`), in the page's clock. Then it closes "+
		"the live view and waits %s plus a random part of a GOP, so that clicks land at every point of the GOP (a fixed "+
		"pause would alias with it). The time includes all the page does: over WebRTC, the peer connection, ICE gathering, "+
		"the WHEP POST, ICE and DTLS, and decoding the cached keyframe; over MP4 (`window.RTCPeerConnection` taken away, "+
		"so the page falls back to progressive MP4), the fetch of `live.mp4` and the media pipeline's start. A click fails "+
		"when no frame comes within %s; other path counts clicks whose `#via` was not the path's. First click is the "+
		"page's first live view over the path. A click's phase is the time since the camera's last keyframe reached an "+
		"RTSP viewer of it, when the click came: how old the GOP cache's keyframe was. CPU is over the path's clicks, "+
		"pauses included, in %% of one core: Chromium's is its browser, renderer and helper processes; other is the "+
		"machine's busy time minus Vigil's, Chromium's and the generator's (other processes on the machine).\n\n",
		w.chromium, r.big.mbps, gopDuration(r.big), r.opts.webuiClicks, webuiPause, webuiFrameLimit)
	b.WriteString("| path | clicks | failed | other path | p50 | p95 | max | first click | frame | Vigil CPU % | Chromium CPU % | other CPU % |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|\n")
	paths := []webuiPath{w.webrtc, w.mp4}
	for i, p := range paths {
		s := p.stats()
		fmt.Fprintf(b, "| %s | %d | %d | %d | %s | %s | %s | %s | %s | %.1f | %s | %s |\n",
			p.via, s.clicks, s.failed, s.otherVia, ms(s.p50), ms(s.p95), ms(s.max), ms(s.first), s.size,
			w.cpus[i].vigil, num(w.cpus[i].chromium, 0), num(w.cpus[i].other, 0))
	}
	var notes []string
	for _, p := range paths {
		o := p.over(webuiTTFFTarget)
		if o.n == 0 {
			continue
		}
		notes = append(notes, fmt.Sprintf("%s: %d of %d clicks took over %s; their phases were %s to %s, and their "+
			"first frame came a median %s after the keyframe (time plus phase).", p.via, o.n, len(p.clicks),
			webuiTTFFTarget, ms(o.phaseMin), ms(o.phaseMax), ms(o.sinceKey)))
	}
	r.notes(b, notes)
}

// webuiTarget is the web page's target line.
func (r *report) webuiTarget() string {
	w := r.webui
	if w == nil {
		return ""
	}
	line := func(name string, p webuiPath) string {
		s := p.stats()
		ok := s.clicks > 0 && s.failed == 0 && s.otherVia == 0 && s.p95 < webuiTTFFTarget
		return fmt.Sprintf("%s %s — p50 %s, p95 %s, %d of %d clicks failed or played via the other path",
			name, verdict(ok), ms(s.p50), ms(s.p95), s.failed+s.otherVia, s.clicks)
	}
	return fmt.Sprintf("- **Click to first decoded frame in Chromium on loopback p95 < 300 ms**: %s; %s (%s; peers wait for the next keyframe).\n",
		line("WebRTC", w.webrtc), line("MP4 fallback", w.mp4), w.chromium)
}
