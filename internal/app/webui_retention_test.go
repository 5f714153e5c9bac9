package app

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"vigil/internal/config"
	"vigil/internal/record"
	"vigil/internal/testkit"
)

// TestOwnerSetsRetentionInThePage: in her camera's live view olga sees its
// retention rule (the server's default: 0 and 0), keeps 14 days and
// 2.5 GiB, and the API and the retention sweep then use that rule; a value
// the server refuses shows its reason; reopened, the view shows the saved
// rule; keeping 40 days around events and lowering footage to 3 days,
// the page says the rule before stays in force until the grace period
// ends (and the sweep uses it); and signing out empties the form.
func TestOwnerSetsRetentionInThePage(t *testing.T) {
	needChromium(t)
	a := startApp(t, "", func(c *config.Config) { c.Record, c.RecordRetain, c.RecordRetainBytes = true, 48*time.Hour, 1<<30 })
	porch := a.addCamera(t, "Porch")
	a.run(t, porch)
	pw := a.addUser(t, "olga")
	claimFor(t, a, porch, "olga")
	tab := startChromium(t)
	signIn(t, tab, a.url("/"), "olga", pw)
	gridIDs(t, tab, 1)
	clickAndWait(t, tab, porch.ID)
	waitRetentionForm(t, tab, "0", "0")

	setRetention(t, tab, "14", "2.5")
	testkit.WaitFor(t, 10*time.Second, "the rule saved", func() error {
		if got := pageText(t, tab, "#retention-done"); got != "Saved: footage is kept for 14 days (around events 30 days), at most 2.5 GiB." {
			return fmt.Errorf("saved %q, error %q", got, pageText(t, tab, "#retention-error"))
		}
		return nil
	})
	path := "/api/cameras/" + porch.ID + "/retention"
	if code, body := a.call(t, "GET", path, "olga", pw, nil); code != 200 || !strings.HasPrefix(strings.TrimSpace(string(body)), `{"days":14,"event_days":0,"bytes":2684354560,"in_force":{"days":14,"event_days":30,"bytes":2684354560}`) {
		t.Fatalf("GET retention: %d %s", code, body)
	}
	want := record.Rule{Age: 14 * 24 * time.Hour, EventAge: 30 * 24 * time.Hour, Bytes: 2684354560} // record_retain_events' default
	if rule, err := a.retention.Rule(t.Context(), deviceID(porch)); rule != want || err != nil {
		t.Fatalf("the sweep's rule: %+v, %v; want %+v", rule, err, want)
	}

	// The browser checks the field's range; without that check the
	// server's refusal is what the owner reads.
	if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](`document.getElementById("retention-days").removeAttribute("max"), true`)); err != nil {
		t.Fatal(err)
	}
	setRetention(t, tab, "4000", "2.5")
	testkit.WaitFor(t, 10*time.Second, "the server's refusal", func() error {
		if got := pageText(t, tab, "#retention-error"); !strings.Contains(got, "3650") || pageText(t, tab, "#retention-done") != "" {
			return fmt.Errorf("error %q, saved %q", got, pageText(t, tab, "#retention-done"))
		}
		return nil
	})
	if code, body := a.call(t, "GET", path, "olga", pw, nil); code != 200 || !strings.Contains(string(body), `"days":14`) {
		t.Fatalf("a refused rule changed the camera's: %d %s", code, body)
	}

	if err := chromedp.Do(tab, chromedp.Click(chromedp.ID("#viewer-close"))); err != nil {
		t.Fatal(err)
	}
	clickAndWait(t, tab, porch.ID)
	waitRetentionForm(t, tab, "14", "2.5")

	// Event footage for 40 days, and footage lowered to 3 days: the page
	// says the 14 days stay in force through the grace period.
	if err := chromedp.Do(tab, chromedp.SetValue(chromedp.ID("#retention-event-days"), "40")); err != nil {
		t.Fatal(err)
	}
	setRetention(t, tab, "3", "2.5")
	testkit.WaitFor(t, 10*time.Second, "the lowered rule saved", func() error {
		if got := pageText(t, tab, "#retention-done"); !strings.HasPrefix(got, "Saved: footage is kept for 3 days (around events 40 days), at most 2.5 GiB. Until ") {
			return fmt.Errorf("saved %q, error %q", got, pageText(t, tab, "#retention-error"))
		}
		return nil
	})
	if rule, err := a.retention.Rule(t.Context(), deviceID(porch)); rule.Age != 14*24*time.Hour || rule.EventAge != 40*24*time.Hour || err != nil {
		t.Fatalf("the sweep's rule within the grace period: %+v, %v; want 14 days, 40 around events", rule, err)
	}

	if err := chromedp.Do(tab, chromedp.Click(chromedp.ID("#viewer-close")), chromedp.Click(chromedp.ID("#logout"))); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "an empty form after signing out", func() error {
		left, err := chromedp.Run(tab, chromedp.Evaluate[string](`["retention-days", "retention-event-days", "retention-gib", "retention-done", "retention-error"]
			.map((id) => { const el = document.getElementById(id); return el.value ?? el.textContent }).join("") +
			(document.getElementById("retention-box").hidden ? "" : "shown")`))
		if err != nil {
			t.Fatal(err)
		}
		if left != "" {
			return fmt.Errorf("the form still holds %q", left)
		}
		return nil
	})
}

// waitRetentionForm waits until the live view's retention form shows days
// and GiB.
func waitRetentionForm(t *testing.T, tab context.Context, days, gib string) {
	t.Helper()
	testkit.WaitFor(t, 10*time.Second, "the retention form with "+days+" days and "+gib+" GiB", func() error {
		got, err := chromedp.Run(tab, chromedp.Evaluate[[]string](`(() => {
			const $ = (id) => document.getElementById(id);
			return [String($("retention-box").hidden), $("retention-days").value, $("retention-gib").value];
		})()`))
		if err != nil {
			t.Fatal(err)
		}
		if got[0] != "false" || got[1] != days || got[2] != gib {
			return fmt.Errorf("hidden, days, GiB: %q", got)
		}
		return nil
	})
}

// setRetention types days and GiB into the retention form and saves.
func setRetention(t *testing.T, tab context.Context, days, gib string) {
	t.Helper()
	if err := chromedp.Do(tab,
		chromedp.SetValue(chromedp.ID("#retention-days"), days),
		chromedp.SetValue(chromedp.ID("#retention-gib"), gib),
		chromedp.Click(chromedp.CSS("#retention-form button[type=submit]")),
	); err != nil {
		t.Fatal(err)
	}
}
