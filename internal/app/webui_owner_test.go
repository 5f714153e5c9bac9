package app

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"vigil/internal/access"
	"vigil/internal/audit"
	"vigil/internal/testkit"
)

// historyRowsJS lists the history table's lines as text.
const historyRowsJS = `[...document.getElementById("history").tBodies[0].rows].map((r) => r.textContent)`

// TestOwnerToolsInThePage: while olga watches her camera, "watching now"
// names her; the history shows her many still fetches (a script's, a
// minute apart, and the page's thumbnail refreshes) as one line with a
// count; with recording off there is no retention form; she renames the
// camera from the live view and the grid follows.
func TestOwnerToolsInThePage(t *testing.T) {
	needChromium(t)
	a := startApp(t, "", nil)
	porch := a.addCamera(t, "Porch")
	a.run(t, porch)
	pw := a.addUser(t, "olga")
	claimFor(t, a, porch, "olga")
	// A script's still fetches a minute apart (the history keeps one line
	// per viewer per minute); written ahead of now, as the epoch began now.
	ctx := context.Background()
	for m := 1; m <= 4; m++ {
		at := time.Now().Add(time.Duration(m) * time.Minute)
		id, err := a.store.StartAccess(ctx, audit.Viewing{Viewer: "u-olga", Device: deviceID(porch), Output: "still",
			Audience: access.AudienceWeb, Remote: "127.0.0.1:4000" + fmt.Sprint(m), Started: at})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.store.EndAccess(ctx, id, at, 5000); err != nil {
			t.Fatal(err)
		}
	}
	tab := startChromium(t)
	watchAgain(t, tab, a.url("/"), "olga", pw, porch.ID)
	var rows []string
	testkit.WaitFor(t, 15*time.Second, "olga watching now, and her stills in one line", func() error {
		if w := pageText(t, tab, "#watching"); !strings.Contains(w, "olga via") {
			return fmt.Errorf("watching now: %q", w)
		}
		var err error
		if rows, err = chromedp.Run(tab, chromedp.Evaluate[[]string](historyRowsJS)); err != nil {
			t.Fatal(err)
		}
		var stills []string
		for _, r := range rows {
			if strings.Contains(r, "still") {
				stills = append(stills, r)
			}
		}
		if len(stills) != 1 || !strings.Contains(stills[0], " views") {
			return fmt.Errorf("still lines: %q", stills)
		}
		return nil
	})
	t.Logf("history: %q", rows)
	// Recording is off: no retention rule to set.
	if hidden, err := chromedp.Run(tab, chromedp.Evaluate[bool](`document.getElementById("retention-box").hidden`)); err != nil || !hidden {
		t.Errorf("the retention form shows without recording (%v)", err)
	}
	for _, scheme := range []string{"light", "dark"} {
		look(t, tab, "owner-phone", 390, 844, scheme)
		look(t, tab, "owner-desktop", 1280, 800, scheme)
	}

	if _, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.getElementById("rename-name").value = ""`)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(tab,
		chromedp.SendKeys(chromedp.ID("#rename-name"), "Front door"),
		chromedp.Click(chromedp.CSS("#rename-form button[type=submit]")),
	); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "the new name in the grid", func() error {
		name := pageText(t, tab, `#grid li[data-id="`+porch.ID+`"] .name`)
		if title := pageText(t, tab, "#viewer-title"); name != "Front door" || title != "Front door" {
			return fmt.Errorf("grid %q, live view %q; rename error %q", name, title, pageText(t, tab, "#rename-error"))
		}
		return nil
	})
	if got := a.camerasOf(t, "olga", pw)[porch.ID].Name; got != "Front door" {
		t.Errorf("the API lists %q", got)
	}
}

// watchAgain signs user in, plays her only camera, closes the live view
// and opens it again: its history then lists the first view.
func watchAgain(t *testing.T, tab context.Context, pageURL, user, pw, id string) {
	t.Helper()
	signIn(t, tab, pageURL, user, pw)
	gridIDs(t, tab, 1)
	play(t, tab, id)
	if err := chromedp.Do(tab, chromedp.Click(chromedp.ID("#viewer-close"))); err != nil {
		t.Fatal(err)
	}
	play(t, tab, id)
}
