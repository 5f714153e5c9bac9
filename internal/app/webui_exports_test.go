package app

import (
	"errors"
	"fmt"
	"image/color"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"vigil/internal/config"
	"vigil/internal/testkit"
)

// TestExportsInThePage: olga releases her camera from its live view,
// keeping her recordings for two days; the page shows the claim code and
// lists the kept recordings (the camera's name, until when) with a
// download that is an MP4 attachment, and the event marked before the
// release with its thumbnail shown. Sam claims the camera: olga's page
// still lists them, sam's lists none. Olga deletes them from the page: the
// list and the API have none left.
func TestExportsInThePage(t *testing.T) {
	needChromium(t)
	a := startApp(t, "", func(c *config.Config) { c.Record, c.RecordSegment = true, time.Second })
	porch := a.addCamera(t, "Porch")
	a.run(t, porch)
	olga, sam := a.addUser(t, "olga"), a.addUser(t, "sam")
	a.claimFresh(t, porch, "olga", olga)
	testkit.WaitFor(t, 20*time.Second, "a recording of olga's", func() error {
		if len(a.timelineOf(t, porch.ID, "olga", olga)) == 0 {
			return errors.New("none yet")
		}
		return nil
	})

	if s, _ := a.markEvent(t, porch.ID, porch.ID, cameraPassword(porch), map[string]any{"kind": "person",
		"thumbnail": plainJPEG(t, color.RGBA{R: 200, G: 40, B: 40, A: 255})}); s != 201 {
		t.Fatalf("the camera marks an event: %d", s)
	}

	tab := startChromium(t)
	signIn(t, tab, a.url("/"), "olga", olga)
	gridIDs(t, tab, 1)
	testkit.WaitFor(t, 10*time.Second, "the live view's owner tools", func() error {
		if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(`#grid li[data-id="`+porch.ID+`"] button.open`))); err != nil {
			return err
		}
		ok, err := chromedp.Run(tab, chromedp.Evaluate[bool](`!document.getElementById("owner-tools").hidden && !!document.getElementById("release-form").onsubmit`))
		if err != nil || !ok {
			return fmt.Errorf("not yet (%v)", err)
		}
		return nil
	})
	js := `(() => { window.confirm = () => true;
		document.getElementById("release-keep").checked = true;
		document.getElementById("release-days").value = "2";
		document.querySelector("#release-form button[type=submit]").click(); return true })()`
	if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](js)); err != nil {
		t.Fatal(err)
	}
	var code string
	testkit.WaitFor(t, 10*time.Second, "the claim code shown", func() error {
		got, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.getElementById("released").hidden ? "" : document.getElementById("released-code").textContent`))
		if code = got; err != nil || code == "" {
			return fmt.Errorf("not yet (%v)", err)
		}
		return nil
	})
	if s, b := a.call(t, "POST", "/api/cameras/claim", "sam", sam, map[string]string{"code": code}); s != 200 {
		t.Fatalf("sam claims with the code the page showed: %d %s", s, b)
	}
	rows := func() []string {
		t.Helper()
		got, err := chromedp.Run(tab, chromedp.Evaluate[[]string](`(async () => { await loadExports();
			return document.getElementById("exports-box").hidden ? [] :
				[...document.querySelectorAll("#exports > li")].map(li => li.textContent + " | " + li.querySelectorAll("a[download]").length) })()`,
			chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	got := rows()
	if len(got) != 1 || !strings.HasPrefix(got[0], "Porch: ") || !strings.Contains(got[0], "kept until") || strings.HasSuffix(got[0], "| 0") {
		t.Fatalf("olga's kept recordings in the page: %q; want Porch's, with downloads", got)
	}
	testkit.WaitFor(t, 10*time.Second, "the kept event's thumbnail shown", func() error {
		got, err := chromedp.Run(tab, chromedp.Evaluate[string](`[...document.querySelectorAll("#exports ul.events > li")].map(li => {
			const img = li.querySelector("img.event-thumb");
			return li.textContent + " " + (img && img.complete ? img.naturalWidth + "x" + img.naturalHeight : "-") }).join("; ")`))
		if err != nil || !strings.HasPrefix(got, "person · ") || !strings.HasSuffix(got, " 64x48") || strings.Contains(got, ";") {
			return fmt.Errorf("%q (%v)", got, err)
		}
		return nil
	})
	dl, err := chromedp.Run(tab, chromedp.Evaluate[string](`(async () => { const a = document.querySelector("#exports a[download]");
		const r = await fetch(a.href); const b = await r.arrayBuffer();
		return r.status + " " + r.headers.get("Content-Type") + " " + r.headers.get("Content-Disposition") + " " + b.byteLength })()`,
		chromedp.EvalAwaitPromise))
	if want := `200 video/mp4 attachment; filename="` + porch.ID + `-`; err != nil || !strings.HasPrefix(dl, want) || strings.HasSuffix(dl, " 0") {
		t.Fatalf("download: %q, %v; want %q… and bytes", dl, err, want)
	}
	if l := a.exportsOf(t, "sam", sam); len(l) != 0 {
		t.Fatalf("sam's exports: %+v", l)
	}
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(`#exports > li > button`))); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "the kept recordings gone from the page", func() error {
		hidden, err := chromedp.Run(tab, chromedp.Evaluate[bool](`document.getElementById("exports-box").hidden`))
		if err != nil || !hidden {
			return fmt.Errorf("still listed (%v)", err)
		}
		return nil
	})
	if l := a.exportsOf(t, "olga", olga); len(l) != 0 {
		t.Fatalf("olga's exports after the page deleted them: %+v", l)
	}
}
