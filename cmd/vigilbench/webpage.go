package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
