package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"vigil/internal/sim"
	"vigil/internal/testkit"
)

// card is what a camera card shows.
type card struct {
	Offline bool   `json:"offline"`
	Note    string `json:"note"`
	Shown   bool   `json:"shown"`   // the picture is visible
	Loading bool   `json:"loading"` // a visible picture whose next one is still loading
	Broken  bool   `json:"broken"`  // a visible picture that did not load
	Picture string `json:"picture"` // the visible picture as a PNG data URL
}

const cardJS = `(() => {
	const li = document.querySelector('#grid li[data-id=%q]');
	const img = li.querySelector("img");
	const shown = !img.hidden && getComputedStyle(img).display !== "none";
	const out = {offline: li.classList.contains("offline"), note: li.querySelector(".note").hidden ? "" : li.querySelector(".note").textContent,
		shown, loading: shown && !img.complete, broken: shown && img.complete && img.naturalWidth === 0, picture: ""};
	if (shown && !out.loading && !out.broken) {
		const c = document.createElement("canvas");
		c.width = img.naturalWidth; c.height = img.naturalHeight;
		c.getContext("2d").drawImage(img, 0, 0);
		out.picture = c.toDataURL("image/png");
	}
	return out;
})()`

// TestOfflineCardShowsLastStill: a camera that goes offline keeps its
// last picture on its card (its own block code), with how old it is and
// why there is no live one, also in a page opened after it went offline;
// a camera that never connected shows no picture and no broken image, and
// says so.
func TestOfflineCardShowsLastStill(t *testing.T) {
	needChromium(t)
	needFFmpeg(t)
	a := startApp(t, "", nil)
	porch, shed := a.addCamera(t, "Porch"), a.addCamera(t, "Shed")
	stop := a.runFor(t, porch)
	pw := a.addUser(t, "olga")
	claimFor(t, a, porch, "olga")
	claimFor(t, a, shed, "olga")
	tab := startChromium(t)
	signIn(t, tab, a.url("/"), "olga", pw)
	gridIDs(t, tab, 2)
	cardOf := func(id string) card {
		c, err := chromedp.Run(tab, chromedp.Evaluate[card](fmt.Sprintf(cardJS, id)))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	testkit.WaitFor(t, 15*time.Second, "the porch's live picture", func() error {
		if c := cardOf(porch.ID); !c.Shown || c.Loading || c.Broken || c.Offline {
			return fmt.Errorf("porch card: %+v", c)
		}
		return nil
	})
	stop()
	a.waitOffline(t, porch)
	var c card
	testkit.WaitFor(t, 15*time.Second, "the porch's offline card", func() error {
		chromedp.Run(tab, chromedp.Evaluate[any](`refresh()`))
		// loadStill swaps the picture's source and its note at once;
		// the card has settled when the new picture has loaded.
		if c = cardOf(porch.ID); !c.Offline || !strings.Contains(c.Note, "last picture") || c.Loading {
			return fmt.Errorf("porch card: %+v", c)
		}
		return nil
	})
	if !c.Shown || c.Broken || !strings.Contains(c.Note, "no video since") || !strings.Contains(c.Note, "s ago") {
		t.Fatalf("offline porch card: shown %v broken %v note %q; want its last picture, its age and why", c.Shown, c.Broken, c.Note)
	}
	if code, err := codeOf(t, c.Picture); err != nil || code != sim.CodeFor(porch.ID) {
		t.Fatalf("the offline porch's picture: code %x, %v; want %x", code, err, sim.CodeFor(porch.ID))
	}
	// A page opened while the camera is offline shows the same: the
	// server keeps the last keyframe it decoded.
	if err := chromedp.Do(tab, chromedp.Navigate(a.url("/")), chromedp.WaitVisible(chromedp.ID("#home"))); err != nil {
		t.Fatal(err)
	}
	gridIDs(t, tab, 2)
	testkit.WaitFor(t, 15*time.Second, "the porch's offline card in a new page", func() error {
		if c = cardOf(porch.ID); !c.Offline || !c.Shown || c.Loading || !strings.Contains(c.Note, "last picture") {
			return fmt.Errorf("porch card: %+v", c)
		}
		return nil
	})
	if code, err := codeOf(t, c.Picture); err != nil || code != sim.CodeFor(porch.ID) {
		t.Fatalf("the offline porch's picture in a new page: code %x, %v; want %x", code, err, sim.CodeFor(porch.ID))
	}
	sc := cardOf(shed.ID)
	if sc.Shown || sc.Broken || !sc.Offline || !strings.Contains(sc.Note, "not connected since Vigil started; no picture kept") {
		t.Fatalf("the shed, never connected: %+v; want no picture, no broken image, and why", sc)
	}
	for _, scheme := range []string{"light", "dark"} {
		look(t, tab, "offline-desktop", 1280, 800, scheme)
		look(t, tab, "offline-phone", 390, 844, scheme)
	}
}

// TestAccountPage: olga adds a camera (its push credentials shown once),
// changes her password, creates an API token (shown
// once, then listed without it) that works as her password over HTTP
// Basic, and deletes it; she sees no invitations. The admin makes an
// invitation that signs someone up.
func TestAccountPage(t *testing.T) {
	needChromium(t)
	a := startApp(t, "", nil)
	pw := a.addUser(t, "olga")
	tab := startChromium(t)
	signIn(t, tab, a.url("/"), "olga", pw)
	text := func(sel string) string { return pageText(t, tab, sel) }
	// She adds a camera: its push password is shown once, and it is hers.
	if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](`document.getElementById("add-box").open = true`)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(tab,
		chromedp.SendKeys(chromedp.ID("#add-name"), "Garage"),
		chromedp.Click(chromedp.CSS("#add-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.ID("#add-new")),
	); err != nil {
		t.Fatal(err)
	}
	ids := gridIDs(t, tab, 1)
	if text("#add-password") == "" || text("#add-user") != ids[0] || !strings.HasSuffix(text("#add-url"), "/"+ids[0]) {
		t.Fatalf("added camera %s shown as url %q user %q password %q", ids[0], text("#add-url"), text("#add-user"), text("#add-password"))
	}
	look(t, tab, "add-camera-phone", 390, 844, "light")
	chromedp.Do(tab, chromedp.EmulateViewport(1280, 800))
	if err := chromedp.Do(tab, chromedp.Click(chromedp.ID("#account-open")), chromedp.WaitVisible(chromedp.ID("#token-form"))); err != nil {
		t.Fatal(err)
	}
	if shown, _ := chromedp.Run(tab, chromedp.Evaluate[bool](`!document.getElementById("invite-box").hidden`)); shown {
		t.Error("olga, no admin, is offered invitations")
	}
	if err := chromedp.Do(tab,
		chromedp.SendKeys(chromedp.ID("#token-name"), "home assistant"),
		chromedp.Click(chromedp.CSS("#token-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.ID("#token-new")),
	); err != nil {
		t.Fatal(err)
	}
	secret := text("#token-secret")
	testkit.WaitFor(t, 5*time.Second, "the token listed", func() error {
		if l := text("#tokens"); !strings.Contains(l, "home assistant") || strings.Contains(l, secret) {
			return fmt.Errorf("tokens list %q (the secret must not be in it)", l)
		}
		return nil
	})
	if status, _ := a.call(t, "GET", "/api/cameras", "olga", secret, nil); status != 200 {
		t.Fatalf("the new token as olga's password: %d", status)
	}
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS("#tokens button"))); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 5*time.Second, "the token gone", func() error {
		if status, _ := a.call(t, "GET", "/api/cameras", "olga", secret, nil); status != 401 || text("#tokens") != "" {
			return fmt.Errorf("deleted token answers %d, list %q", status, text("#tokens"))
		}
		return nil
	})

	next := "a new long passphrase 42"
	if err := chromedp.Do(tab,
		chromedp.SendKeys(chromedp.ID("#password-current"), pw),
		chromedp.SendKeys(chromedp.ID("#password-new"), next),
		chromedp.Click(chromedp.CSS("#password-form button[type=submit]")),
	); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "password changed", func() error {
		if d := text("#password-done"); d == "" {
			return fmt.Errorf("no confirmation; error %q", text("#password-error"))
		}
		return nil
	})
	if status, _ := a.call(t, "GET", "/api/cameras", "olga", next, nil); status != 200 {
		t.Fatalf("the new password: %d", status)
	}
	if status, _ := a.call(t, "GET", "/api/cameras", "olga", pw, nil); status != 401 {
		t.Fatalf("the old password still works: %d", status)
	}
	for _, scheme := range []string{"light", "dark"} {
		look(t, tab, "account-phone", 390, 844, scheme)
	}

	// The admin invites someone.
	if err := chromedp.Do(tab, chromedp.Click(chromedp.ID("#logout"))); err != nil {
		t.Fatal(err)
	}
	waitSignedOut(t, tab)
	signIn(t, tab, a.url("/"), AdminName, adminPassword)
	if err := chromedp.Do(tab, chromedp.Click(chromedp.ID("#account-open")), chromedp.WaitVisible(chromedp.ID("#invite")),
		chromedp.Click(chromedp.ID("#invite")), chromedp.WaitVisible(chromedp.ID("#invite-new"))); err != nil {
		t.Fatal(err)
	}
	body := map[string]string{"name": "nina", "password": "ninas long passphrase", "invitation": text("#invite-code")}
	if status, b := a.call(t, "POST", "/api/signup", "", "", body); status != 201 {
		t.Fatalf("sign-up with the page's invitation: %d %s", status, b)
	}
	look(t, tab, "account-admin-desktop", 1280, 800, "light")
}

// waitSignedOut waits for the sign-in form.
func waitSignedOut(t *testing.T, tab context.Context) {
	t.Helper()
	testkit.WaitFor(t, 10*time.Second, "sign-in form", func() error {
		if shown, _ := chromedp.Run(tab, chromedp.Evaluate[bool](`!document.getElementById("login").hidden`)); !shown {
			return errors.New("the form is hidden")
		}
		return nil
	})
}
