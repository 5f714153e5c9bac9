package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"vigil/internal/chromium"
	"vigil/internal/sim"
	"vigil/internal/testkit"
)

// pageFrameJS draws the live view's current frame (see frameJS).
const pageFrameJS = `(() => { const v = document.getElementById("video"); return ` + frameJS + `; })()`

// frameWatchJS records, in the page, when the live view presents frames.
const frameWatchJS = `(() => {
	const v = document.getElementById("video");
	window.frames_ = {first: 0, last: 0, count: 0, clicked: performance.now()};
	const tick = () => {
		const now = performance.now();
		if (!frames_.first) frames_.first = now;
		frames_.last = now;
		frames_.count++;
		v.requestVideoFrameCallback(tick);
	};
	v.requestVideoFrameCallback(tick);
	return true;
})()`

type pageFrames struct {
	First   float64 `json:"first"`
	Last    float64 `json:"last"`
	Count   int     `json:"count"`
	Clicked float64 `json:"clicked"`
	Now     float64 `json:"now"`
}

func framesNow(t *testing.T, tab context.Context) pageFrames {
	t.Helper()
	f, err := chromedp.Run(tab, chromedp.Evaluate[pageFrames](`({...frames_, now: performance.now()})`))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// screenshotDir is where the web UI tests leave their screenshots
// ($VIGIL_SCREENSHOTS, or vigil-screenshots in the temp directory).
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("VIGIL_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "vigil-screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func screenshot(t *testing.T, tab context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(tab, chromedp.FullScreenshot(90))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(screenshotDir(t), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// signIn fills the page's sign-in form and waits for the grid.
func signIn(t *testing.T, tab context.Context, pageURL, user, pw string) {
	t.Helper()
	if err := chromium.SignIn(tab, pageURL, user, pw); err != nil {
		t.Fatal(err)
	}
}

// gridIDs waits until the grid lists want cameras and returns their ids.
func gridIDs(t *testing.T, tab context.Context, want int) []string {
	t.Helper()
	var ids []string
	testkit.WaitFor(t, 15*time.Second, fmt.Sprintf("grid of %d cameras", want), func() error {
		got, err := chromedp.Run(tab, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#grid li")].map(li => li.dataset.id)`))
		if err != nil {
			t.Fatal(err)
		}
		if ids = got; len(ids) == want {
			return nil
		}
		chromedp.Run(tab, chromedp.Evaluate[any](`refresh()`))
		return fmt.Errorf("grid shows %v", ids)
	})
	return ids
}

// videoState is what play saw last. Its Error asks the page for the video
// element's state, so only a failed wait pays for it.
type videoState struct {
	tab    context.Context
	frames int
}

func (v videoState) Error() string {
	state, _ := chromedp.Run(v.tab, chromedp.Evaluate[string](`(() => { const v = document.getElementById("video"); return document.getElementById("state").textContent + " src=" + v.src + " rs=" + v.readyState + " ns=" + v.networkState + " err=" + (v.error && v.error.message) + " paused=" + v.paused + " t=" + v.currentTime })()`))
	return fmt.Sprintf("%d frames (state %q)", v.frames, state)
}

// play clicks the camera's card and waits until the live view has shown
// frames for a moment; it returns the block code of the picture and the
// time from click to first frame.
func play(t *testing.T, tab context.Context, id string) (uint32, time.Duration) {
	t.Helper()
	f := clickAndWait(t, tab, id)
	code := pageCode(t, tab)
	return code, time.Duration((f.First - f.Clicked) * float64(time.Millisecond))
}

// clickAndWait clicks the camera's card and waits until the live view
// has shown ten frames.
func clickAndWait(t *testing.T, tab context.Context, id string) pageFrames {
	t.Helper()
	// The grid may re-render between finding the button and clicking it
	// (a refresh, a sign-in's data arriving): click again.
	testkit.WaitFor(t, 10*time.Second, "a click on camera "+id, func() error {
		return chromedp.Do(tab, chromedp.Click(chromedp.CSS(`#grid li[data-id="`+id+`"] button.open`)))
	})
	if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](frameWatchJS)); err != nil {
		t.Fatal(err)
	}
	var f pageFrames
	testkit.WaitFor(t, playTimeout, "10 frames of camera "+id, func() error {
		if f = framesNow(t, tab); f.Count < 10 {
			return videoState{tab: tab, frames: f.Count}
		}
		return nil
	})
	return f
}

// waitMode waits until the live view says it plays mode (#mode's data-mode).
func waitMode(t *testing.T, tab context.Context, mode string) {
	t.Helper()
	testkit.WaitFor(t, 10*time.Second, "the live view in mode "+mode, func() error {
		got, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.getElementById("mode").dataset.mode`))
		if err != nil {
			t.Fatal(err)
		}
		if got != mode {
			return fmt.Errorf("mode %q (%s)", got, pageText(t, tab, "#mode"))
		}
		return nil
	})
}

func pageText(t *testing.T, tab context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector(`+"`"+sel+"`"+`).textContent`))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestWebPage drives the owner's page in Chromium: sign in, the grid shows
// the owner's cameras and no one else's, a click plays the camera live (its
// block code checked), the history lists the view, sharing makes the camera
// appear for the viewer, and revoking stops the viewer's playing stream
// within a second and takes the camera off the viewer's grid. mode is the
// page's path: "webrtc", or "blocked" — the browser has no WebRTC (as
// with a privacy extension) and the page falls back to progressive MP4.
func TestWebPage(t *testing.T) {
	for _, mode := range []string{"webrtc", "blocked"} {
		t.Run(mode, func(t *testing.T) { testWebPage(t, mode) })
	}
}

// blockWebRTC takes WebRTC away from the page, as a browser without it.
func blockWebRTC(t *testing.T, tab context.Context) {
	t.Helper()
	if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](`(() => { window.RTCPeerConnection = undefined; return true; })()`)); err != nil {
		t.Fatal(err)
	}
}

func testWebPage(t *testing.T, mode string) {
	via := map[string]string{"webrtc": "WebRTC", "blocked": "MP4"}[mode]
	needChromium(t)
	a := startApp(t, "", nil)
	porch, yard, bobs := a.addCamera(t, "Porch"), a.addCamera(t, "Yard"), a.addCamera(t, "Bob's garage")
	a.run(t, porch, yard, bobs)
	pw := a.addUser(t, "olga")
	veraPW := a.addUser(t, "vera")
	a.addUser(t, "bob")
	claimFor(t, a, porch, "olga")
	claimFor(t, a, yard, "olga")
	claimFor(t, a, bobs, "bob")
	tab := startChromium(t)

	signIn(t, tab, a.url("/"), "olga", pw)
	if mode == "blocked" {
		blockWebRTC(t, tab)
	}
	ids := gridIDs(t, tab, 2)
	if slices.Contains(ids, bobs.ID) || !slices.Contains(ids, porch.ID) || !slices.Contains(ids, yard.ID) {
		t.Fatalf("olga's grid: %v (porch %s, yard %s, bob's %s)", ids, porch.ID, yard.ID, bobs.ID)
	}
	time.Sleep(time.Second) // let the stills load for the screenshot
	screenshot(t, tab, "grid-"+mode+".jpg")

	code, ttff := play(t, tab, porch.ID)
	if code != sim.CodeFor(porch.ID) {
		t.Fatalf("the page showed block code %x for the porch, want %x", code, sim.CodeFor(porch.ID))
	}
	t.Logf("click to first frame (%s): %v via %s", mode, ttff, pageText(t, tab, "#via"))
	if got := pageText(t, tab, "#via"); got != via {
		t.Fatalf("played via %s, want %s", got, via)
	}
	waitMode(t, tab, "main") // a fast path: WebRTC's session says so, MP4 chose it
	screenshot(t, tab, "live-"+mode+".jpg")

	// Share with vera from the dialog's form.
	if err := chromedp.Do(tab,
		chromedp.SendKeys(chromedp.ID("#share-user"), "vera"),
		chromedp.Click(chromedp.CSS("#share-form button[type=submit]")),
	); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "vera in the shares list", func() error {
		if s := pageText(t, tab, "#shares"); !strings.Contains(s, "vera") {
			return fmt.Errorf("shares list: %q", s)
		}
		return nil
	})
	// Reopen: the history lists the view just made.
	if err := chromedp.Do(tab, chromedp.Click(chromedp.ID("#viewer-close"))); err != nil {
		t.Fatal(err)
	}
	play(t, tab, porch.ID)
	testkit.WaitFor(t, 10*time.Second, "olga's view in the history", func() error {
		if h := pageText(t, tab, "#history tbody"); !strings.Contains(h, "olga") {
			return fmt.Errorf("history: %q", h)
		}
		return nil
	})
	chromedp.Do(tab, chromedp.Click(chromedp.ID("#viewer-close")), chromedp.Click(chromedp.ID("#logout")))
	// The sign-in below navigates away: wait for the logout request to
	// finish first, or the navigation may cancel it and find olga signed in.
	waitSignedOut(t, tab)

	// Vera sees the shared camera, plays it, and loses it when olga revokes.
	signIn(t, tab, a.url("/"), "vera", veraPW)
	if mode == "blocked" {
		blockWebRTC(t, tab)
	}
	if ids := gridIDs(t, tab, 1); ids[0] != porch.ID {
		t.Fatalf("vera's grid: %v", ids)
	}
	if code, _ := play(t, tab, porch.ID); code != sim.CodeFor(porch.ID) {
		t.Fatalf("vera saw block code %x", code)
	}
	if status, body := a.call(t, "DELETE", "/api/cameras/"+porch.ID+"/shares/vera", "olga", pw, nil); status != 204 {
		t.Fatalf("unshare: %d %s", status, body)
	}
	lag, _ := chromedp.Run(tab, chromedp.Evaluate[string](`(() => { const v = document.getElementById("video"); const b = v.buffered; return b.length + " " + (b.length ? b.end(b.length-1) : 0) + " " + v.currentTime + " rs=" + v.readyState + " via " + document.getElementById("via").textContent })()`))
	t.Logf("at revocation (buffered ranges, end, position): %s", lag)
	revoked := framesNow(t, tab).Now
	time.Sleep(2 * time.Second)
	f := framesNow(t, tab)
	t.Logf("last frame %.0f ms after the revocation", f.Last-revoked)
	if f.Last-revoked > 1000 {
		t.Errorf("vera's page still showed frames %.0f ms after the revocation", f.Last-revoked)
	}
	testkit.WaitFor(t, 15*time.Second, `state "no access" after the revocation`, func() error {
		if state := pageText(t, tab, "#state"); state != "no access" {
			return fmt.Errorf("state %q", state)
		}
		return nil
	})
	chromedp.Do(tab, chromedp.Click(chromedp.ID("#viewer-close")))
	gridIDs(t, tab, 0)
}
