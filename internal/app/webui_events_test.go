package app

import (
	"fmt"
	"image/color"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"vigil/internal/config"
	"vigil/internal/testkit"
)

// TestEventListInThePage: olga's two cameras mark three events; the home
// page lists them all, filters them by camera and by type, plays one's
// clip in the page, offers its clip.mp4 as an attachment, and pins and
// unpins it (the API shows the pin come and go).
func TestEventListInThePage(t *testing.T) {
	needChromium(t)
	a := startApp(t, "", func(c *config.Config) { c.Record, c.RecordSegment = true, time.Second })
	porch, yard := a.addCamera(t, "Porch"), a.addCamera(t, "Yard")
	a.run(t, porch)
	a.run(t, yard)
	olga := a.addUser(t, "olga")
	a.claimFresh(t, porch, "olga", olga)
	a.claimFresh(t, yard, "olga", olga)
	thumb := plainJPEG(t, color.RGBA{B: 200, A: 255})
	var motion eventOut
	for _, e := range []struct {
		cam  string
		pw   string
		kind string
	}{{porch.ID, cameraPassword(porch), "motion"}, {porch.ID, cameraPassword(porch), "person"}, {yard.ID, cameraPassword(yard), "ring"}} {
		s, m := a.markEvent(t, e.cam, e.cam, e.pw, map[string]any{"kind": e.kind, "thumbnail": thumb})
		if s != 201 {
			t.Fatalf("mark %s: %d", e.kind, s)
		}
		if e.kind == "motion" {
			motion = m
		}
	}

	tab := startChromium(t)
	signIn(t, tab, a.url("/"), "olga", olga)
	gridIDs(t, tab, 2)
	rows := func() []string {
		got, err := chromedp.Run(tab, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#feed li")].map(li => li.dataset.camera + " " + li.textContent)`))
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	// Every event with its clip (the recordings around it filed).
	testkit.WaitFor(t, 30*time.Second, "three events with clips", func() error {
		chromedp.Run(tab, chromedp.Evaluate[any](`loadFeed(true)`))
		n, err := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll("#feed li button.feed-play:not([disabled])").length`))
		if err != nil || n != 3 {
			return fmt.Errorf("%v with a clip of %q (%v)", n, rows(), err)
		}
		return nil
	})
	filter := func(cam, kind string, want ...string) {
		t.Helper()
		js := fmt.Sprintf(`(() => { for (const [id, v] of [["feed-camera", %q], ["feed-kind", %q]]) {
			const s = document.getElementById(id); s.value = v; s.dispatchEvent(new Event("change")); } return true })()`, cam, kind)
		if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](js)); err != nil {
			t.Fatal(err)
		}
		got := rows()
		if len(got) != len(want) {
			t.Fatalf("filtered by %q, %q: %q; want %q", cam, kind, got, want)
		}
		for i, w := range want {
			if !strings.Contains(got[i], w) {
				t.Fatalf("filtered by %q, %q: %q; want %q", cam, kind, got, want)
			}
		}
	}
	filter(yard.ID, "", "Yard · ring")
	filter("", "person", "Porch · person")
	filter(porch.ID, "ring")
	filter(porch.ID, "motion", "Porch · motion")

	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(`#feed li button.feed-play`))); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 15*time.Second, "the clip playing in the page", func() error {
		s, err := chromedp.Run(tab, chromedp.Evaluate[string](`(() => { const v = document.getElementById("feed-video");
			return v.hidden + " " + v.readyState + " " + v.videoWidth + " " + (v.error && v.error.message) })()`))
		if err != nil || !strings.HasPrefix(s, "false 4 ") && !strings.HasPrefix(s, "false 3 ") && !strings.HasPrefix(s, "false 2 ") || strings.Contains(s, " 0 ") {
			return fmt.Errorf("video: %s (%v)", s, err)
		}
		return nil
	})
	dl, err := chromedp.Run(tab, chromedp.Evaluate[string](`(async () => { const a = document.querySelector("#feed li a.feed-download");
		const r = await fetch(a.href); const b = await r.arrayBuffer();
		return a.hasAttribute("download") + " " + r.status + " " + r.headers.get("Content-Disposition") + " " + b.byteLength })()`,
		chromedp.EvalAwaitPromise))
	if want := `true 200 attachment; filename="` + porch.ID + `-`; err != nil || !strings.HasPrefix(dl, want) || strings.HasSuffix(dl, " 0") {
		t.Fatalf("download: %q, %v; want %q… and bytes", dl, err, want)
	}

	pins := func() string {
		t.Helper()
		_, _, b := a.get(t, "/api/cameras/"+porch.ID+"/pins", "olga", olga)
		return string(b)
	}
	pinButton := func(want string) {
		t.Helper()
		if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(`#feed li button.feed-pin`))); err != nil {
			t.Fatal(err)
		}
		testkit.WaitFor(t, 10*time.Second, "the button saying "+want, func() error {
			if got := pageText(t, tab, "#feed li button.feed-pin"); got != want {
				return fmt.Errorf("%q (error %q)", got, pageText(t, tab, "#feed-error"))
			}
			return nil
		})
	}
	pinButton("Unpin")
	if got := pins(); !strings.Contains(got, fmt.Sprintf(`"event":%d`, motion.ID)) {
		t.Fatalf("pins after Pin: %s; want the motion event's", got)
	}
	pinButton("Pin")
	if got := pins(); !strings.Contains(got, `"pins":[]`) {
		t.Fatalf("pins after Unpin: %s; want none", got)
	}
}
