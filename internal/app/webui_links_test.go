package app

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"vigil/internal/store"
	"vigil/internal/testkit"
)

// TestWebPageLinks drives the owner's page in Chromium: an Alexa link is
// listed beside a Google one, each with the cameras it may show; an Alexa
// link whose event token was refused for good says it needs relinking;
// Unlink ends the Alexa link (its token stops resolving, its event grant
// goes) and leaves Google's.
func TestWebPageLinks(t *testing.T) {
	needChromium(t)
	a := startApp(t, "", withOAuthClients)
	pw, porch, garage := a.household(t)
	googleTok := linkWith(t, a.google(t), "olga", pw, porch.ID)
	alexaTok := linkWith(t, a.alexa(t), "olga", pw, porch.ID, garage.ID)
	ctx := context.Background()
	alexaLinks, err := a.store.LiveLinks(ctx, "alexa")
	if err != nil || len(alexaLinks) != 1 {
		t.Fatalf("alexa links %v %v", alexaLinks, err)
	}
	// The event gateway refused the link's token even after a refresh.
	if err := a.store.PutAlexaGrant(ctx, store.AlexaGrant{Link: alexaLinks[0].ID, Access: "Atza|x", Refresh: "Atzr|x",
		Expires: time.Now().Add(time.Hour), Region: "NA", Relink: time.Now()}); err != nil {
		t.Fatal(err)
	}

	tab := startChromium(t)
	signIn(t, tab, a.url("/"), "olga", pw)
	rows := func() []string {
		got, err := chromedp.Run(tab, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#links li")].map(li => li.textContent)`))
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	// Each row: the service, the cameras it may show (in the link's
	// order), and for Alexa's the relinking notice.
	want := [][]string{{"Google Home — sees porch"}, {"Alexa — sees ", "porch", "garage", "— needs relinking"}}
	testkit.WaitFor(t, 15*time.Second, "both links listed", func() error {
		got := rows()
		if len(got) != 2 {
			return fmt.Errorf("links %q", got)
		}
		for i, parts := range want {
			if !strings.HasPrefix(got[i], parts[0]) || strings.Contains(got[0], "relinking") {
				return fmt.Errorf("link %d reads %q, want %q...", i, got[i], parts)
			}
			for _, p := range parts[1:] {
				if !strings.Contains(got[i], p) {
					return fmt.Errorf("link %d reads %q, want %q in it", i, got[i], p)
				}
			}
		}
		return nil
	})
	screenshot(t, tab, "links.jpg")

	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(`#links button[aria-label="Unlink Alexa"]`))); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "the Alexa link gone from the page", func() error {
		if got := rows(); len(got) != 1 || !strings.HasPrefix(got[0], want[0][0]) {
			return fmt.Errorf("links %q", got)
		}
		return nil
	})
	if a.resolves(t, alexaTok) || !a.resolves(t, googleTok) {
		t.Fatalf("after unlinking Alexa: Alexa's token resolves %v, Google's %v", a.resolves(t, alexaTok), a.resolves(t, googleTok))
	}
	if _, err := a.store.AlexaGrant(ctx, alexaLinks[0].ID); err == nil {
		t.Fatal("the unlinked Alexa link's event grant is still kept")
	}
}
