package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/chromedp/chromedp"

	"vigil/internal/chromium"
	"vigil/internal/vigilproc"
)

// The owner's web page in Chromium, as the webui scenario drives it:
// start the browser, sign in, click a camera's card and time its first
// frame.

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
		return nil, nil, fmt.Errorf("%w; log tail:\n%s", err, vigilproc.Tail(logf.Name(), 20))
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
	const c = window.click_ = {clicked: 0, first: 0, via: "", width: 0, height: 0, steps: {}, rtp: {},
		frame: new Promise((ok) => { presented = ok; })};
	const PC = window.RTCPeerConnection;
	if (!window.fetch.timed_) { // the WHEP POST: sent and answered
		const f = window.fetch;
		window.fetch = Object.assign(async (url, o) => {
			const whep = o && o.method === "POST" && String(url).endsWith("/whep");
			const s = window.click_.steps;
			if (whep) s.posted = performance.now();
			const res = await f(url, o);
			if (whep) s.response = performance.now();
			return res;
		}, {timed_: true});
	}
	if (PC && !PC.timed_) {
		// The page's peer connections, timed: when the offer is made, ICE
		// gathering completes, the answer comes and the peer connects.
		window.RTCPeerConnection = class extends PC {
			static timed_ = true;
			constructor(...args) {
				super(...args);
				const s = window.click_.steps, at = (k) => { if (!s[k]) s[k] = performance.now(); };
				window.click_.pc = this;
				this.addEventListener("icegatheringstatechange", () => { if (this.iceGatheringState === "complete") at("gathered"); });
				this.addEventListener("connectionstatechange", () => { if (this.connectionState === "connected") at("connected"); });
				this.at_ = at;
			}
			setLocalDescription(...a) { this.at_("offered"); return super.setLocalDescription(...a); }
			setRemoteDescription(...a) { this.at_("answered"); return super.setRemoteDescription(...a); }
		};
	}
	document.addEventListener("click", () => {
		c.clicked = performance.now();
		v.requestVideoFrameCallback(async (now, m) => {
			c.first = performance.now();
			c.via = via.textContent;
			c.width = m.width;
			c.height = m.height;
			if (c.pc) { // the receiver's counters at the first frame
				try {
					(await c.pc.getStats()).forEach((r) => {
						if (r.type === "inbound-rtp" && r.kind === "video") c.rtp = r;
					});
				} catch (e) {}
			}
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
	state: document.getElementById("state").textContent, steps: click_.steps,
	rtp: {framesDecoded: click_.rtp.framesDecoded || 0, keyFramesDecoded: click_.rtp.keyFramesDecoded || 0,
		pliCount: click_.rtp.pliCount || 0, nackCount: click_.rtp.nackCount || 0, packetsLost: click_.rtp.packetsLost || 0,
		packetsReceived: click_.rtp.packetsReceived || 0}}))`, webuiFrameLimit.Milliseconds())

type clickRecord struct {
	Clicked float64 `json:"clicked"` // performance.now(), ms
	First   float64 `json:"first"`
	Via     string  `json:"via"`
	Width   int     `json:"width"`
	Height  int     `json:"height"`
	State   string  `json:"state"` // the live view's state line
	// Steps are when the page's peer connection made its offer, posted
	// it, had the response, set the answer, finished ICE gathering and
	// connected (performance.now(), ms; WebRTC only).
	Steps map[string]float64 `json:"steps"`
	// RTP is the video receiver's counters at the first frame (WebRTC only).
	RTP map[string]int `json:"rtp"`
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
		c.detail = r.detail()
	}
	return c, c.err
}

// detail is the click's steps from the click, and the receiver's counters,
// for the log: where a slow click's time went.
func (r clickRecord) detail() string {
	if len(r.Steps) == 0 {
		return ""
	}
	steps := slices.SortedFunc(maps.Keys(r.Steps), func(a, b string) int { return cmp.Compare(r.Steps[a], r.Steps[b]) })
	var b strings.Builder
	for _, k := range steps {
		fmt.Fprintf(&b, "%s +%.0f ms, ", k, r.Steps[k]-r.Clicked)
	}
	fmt.Fprintf(&b, "frame +%.0f ms; at the first frame: %d packets, %d lost, %d NACKs, %d PLIs, %d frames decoded (%d key)",
		r.First-r.Clicked, r.RTP["packetsReceived"], r.RTP["packetsLost"], r.RTP["nackCount"], r.RTP["pliCount"],
		r.RTP["framesDecoded"], r.RTP["keyFramesDecoded"])
	return b.String()
}
