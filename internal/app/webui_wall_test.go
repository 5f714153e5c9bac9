package app

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"vigil/internal/sim"
	"vigil/internal/testkit"
)

// codeOf decodes a data: URL image (PNG or JPEG) and reads its block code.
func codeOf(t *testing.T, dataURL string) (uint32, error) {
	t.Helper()
	_, b64, ok := strings.Cut(dataURL, ";base64,")
	if !ok {
		return 0, fmt.Errorf("not a data URL: %.40q", dataURL)
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return 0, err
	}
	img, _, err := image.Decode(bytes.NewReader(raw))
	if err != nil {
		return 0, err
	}
	return sim.ReadCode(img)
}

// tileFrameJS draws the current frame of camera %q's wall tile.
const tileFrameJS = `(() => {
	const v = document.querySelector('#tiles li[data-id=%q] video');
	if (!v || v.readyState < 2 || v.currentTime === 0) return "";
	return ` + frameJS + `;
})()`

// snapshotJS is the tile's snapshot (what its Snapshot button downloads)
// as a data URL.
const snapshotJS = `(async () => {
	const blob = await snapshot(document.querySelector('#tiles li[data-id=%q] video'));
	return await new Promise((ok) => { const r = new FileReader(); r.onload = () => ok(r.result); r.readAsDataURL(blob); });
})()`

// look sets the tab's width and colour scheme and leaves a screenshot.
func look(t *testing.T, tab context.Context, name string, width, height int64, scheme string) {
	t.Helper()
	dark := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
		return err
	})
	if err := chromedp.Do(tab, chromedp.EmulateViewport(width, height), dark); err != nil {
		t.Fatal(err)
	}
	screenshot(t, tab, name+"-"+scheme+".jpg")
}

// TestLiveWall: the owner opens the live wall; each of her cameras plays
// in its own tile, which shows that camera's block code (never a
// neighbour's); a tile's snapshot is its camera's picture; sound and full
// screen toggle; the page follows prefers-color-scheme.
func TestLiveWall(t *testing.T) {
	needChromium(t)
	a := startApp(t, "", nil)
	cams := []*sim.Camera{a.addCamera(t, "Porch"), a.addCamera(t, "Yard"), a.addCamera(t, "Garage")}
	bobs := a.addCamera(t, "Bob's shed")
	a.run(t, append(cams, bobs)...)
	pw := a.addUser(t, "olga")
	a.addUser(t, "bob")
	for _, c := range cams {
		claimFor(t, a, c, "olga")
	}
	claimFor(t, a, bobs, "bob")
	tab := startChromium(t)
	signIn(t, tab, a.url("/"), "olga", pw)
	gridIDs(t, tab, len(cams))
	testkit.WaitFor(t, 10*time.Second, "a click on Watch all live", func() error {
		return chromedp.Do(tab, chromedp.Click(chromedp.ID("#wall-open")))
	})
	for _, c := range cams {
		testkit.WaitFor(t, playTimeout, "camera "+c.ID+"'s tile playing", func() error {
			url, err := chromedp.Run(tab, chromedp.Evaluate[string](fmt.Sprintf(tileFrameJS, c.ID)))
			if err != nil || url == "" {
				return fmt.Errorf("no frame yet (%v)", err)
			}
			code, err := codeOf(t, url)
			if err != nil {
				return err
			}
			if code != sim.CodeFor(c.ID) {
				t.Fatalf("camera %s's tile shows block code %x, want %x", c.ID, code, sim.CodeFor(c.ID))
			}
			return nil
		})
	}
	n, err := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll("#tiles li").length`))
	if err != nil || n != len(cams) {
		t.Fatalf("%d tiles (%v), want %d: bob's camera must not be one", n, err, len(cams))
	}
	snap, err := chromedp.Run(tab, chromedp.Evaluate[string](fmt.Sprintf(snapshotJS, cams[1].ID), chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if code, err := codeOf(t, snap); err != nil || code != sim.CodeFor(cams[1].ID) {
		t.Fatalf("the yard's snapshot: code %x, %v; want %x", code, err, sim.CodeFor(cams[1].ID))
	}

	sel := `#tiles li[data-id="` + cams[0].ID + `"]`
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(sel+" button.sound"))); err != nil {
		t.Fatal(err)
	}
	if muted, _ := chromedp.Run(tab, chromedp.Evaluate[bool](`document.querySelector('`+sel+` video').muted`)); muted {
		t.Error("Unmute left the tile muted")
	}
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(sel+" button.full"))); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 5*time.Second, "the porch's tile full screen", func() error {
		id, _ := chromedp.Run(tab, chromedp.Evaluate[string](`document.fullscreenElement ? document.fullscreenElement.dataset.id || document.fullscreenElement.id : ""`))
		if id != cams[0].ID {
			return fmt.Errorf("full screen: %q", id)
		}
		return nil
	})
	chromedp.Run(tab, chromedp.Evaluate[any](`document.exitFullscreen()`, chromedp.EvalAwaitPromise))

	for _, scheme := range []string{"light", "dark"} {
		look(t, tab, "wall-desktop", 1280, 800, scheme)
		look(t, tab, "wall-phone", 390, 844, scheme)
	}
	bg, err := chromedp.Run(tab, chromedp.Evaluate[string](`getComputedStyle(document.body).backgroundColor`))
	if err != nil || bg != "rgb(17, 20, 24)" {
		t.Errorf("dark scheme: body background %q (%v), want the dark rgb(17, 20, 24)", bg, err)
	}

	// Back to the cameras: every tile stops (its connection ends).
	if err := chromedp.Do(tab, chromedp.Click(chromedp.ID("#wall-close"))); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "no mp4 viewer left", func() error {
		if v := metricSum(t, a, "vigil_http_viewers"); v != 0 {
			return fmt.Errorf("%v mp4 viewers", v)
		}
		return nil
	})
	if left, _ := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll("#tiles video").length`)); left != 0 {
		t.Errorf("%d videos left after closing the wall", left)
	}
}
