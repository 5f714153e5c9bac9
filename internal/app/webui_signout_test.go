package app

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"vigil/internal/testkit"
)

// TestSignOutClearsThePage: olga signs in, opens her camera's live view
// with its shares and history, starts typing a share, opens the live wall,
// creates an API token (shown once), starts typing a password and a claim
// code, and signs out; bob signs in in the same tab. Bob's page holds nothing of
// olga's: only his camera, no shares, history, typed text, open dialog or
// open claim box.
func TestSignOutClearsThePage(t *testing.T) {
	needChromium(t)
	a := startApp(t, "", nil)
	porch, garage := a.addCamera(t, "Porch"), a.addCamera(t, "Garage")
	a.run(t, porch, garage)
	olgaPW, bobPW := a.addUser(t, "olga"), a.addUser(t, "bob")
	a.addUser(t, "vera")
	claimFor(t, a, porch, "olga")
	claimFor(t, a, garage, "bob")
	if status, body := a.call(t, "PUT", "/api/cameras/"+porch.ID+"/shares/vera", "olga", olgaPW, nil); status != 204 {
		t.Fatalf("share: %d %s", status, body)
	}
	tab := startChromium(t)
	watchAgain(t, tab, a.url("/"), "olga", olgaPW, porch.ID)
	testkit.WaitFor(t, 10*time.Second, "olga's shares and history", func() error {
		if s, h := pageText(t, tab, "#shares"), pageText(t, tab, "#history tbody"); s == "" || h == "" {
			return fmt.Errorf("shares %q, history %q", s, h)
		}
		return nil
	})
	if err := chromedp.Do(tab, chromedp.SendKeys(chromedp.ID("#share-user"), "someone"),
		chromedp.Click(chromedp.ID("#viewer-close"))); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](`document.getElementById("claim-box").open = true`)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(tab, chromedp.SendKeys(chromedp.ID("#claim-code"), "ABCD")); err != nil {
		t.Fatal(err)
	}
	// The live wall plays; then her account page shows a new token once,
	// and she starts typing a password.
	if err := chromedp.Do(tab, chromedp.Click(chromedp.ID("#wall-open"))); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "olga's wall tile", func() error {
		if n, _ := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll("#tiles li").length`)); n != 1 {
			return fmt.Errorf("%d tiles", n)
		}
		return nil
	})
	if err := chromedp.Do(tab,
		chromedp.Click(chromedp.ID("#account-open")),
		chromedp.SendKeys(chromedp.ID("#token-name"), "olgas script"),
		chromedp.Click(chromedp.CSS("#token-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.ID("#token-new")),
		chromedp.SendKeys(chromedp.ID("#password-current"), "half typed"),
	); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(tab, chromedp.Click(chromedp.ID("#logout"))); err != nil {
		t.Fatal(err)
	}
	waitSignedOut(t, tab)
	left, err := chromedp.Run(tab, chromedp.Evaluate[string](pageState))
	if err != nil {
		t.Fatal(err)
	}
	if left != "" {
		t.Errorf("signed out, the page still holds: %s", left)
	}

	// The sign-in form is filled in place: the same page, its script's state.
	ctx, cancel := context.WithTimeout(tab, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("#login-name"), "bob"),
		chromedp.SendKeys(chromedp.ID("#login-password"), bobPW),
		chromedp.Click(chromedp.CSS("#login-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.ID("#home")),
	); err != nil {
		t.Fatal(err)
	}
	if ids := gridIDs(t, tab, 1); ids[0] != garage.ID {
		t.Fatalf("bob's grid: %v, want only his garage %s", ids, garage.ID)
	}
	if who := pageText(t, tab, "#who-name"); who != "bob" {
		t.Errorf("signed in as %q, want bob", who)
	}
	left, err = chromedp.Run(tab, chromedp.Evaluate[string](pageState))
	if err != nil {
		t.Fatal(err)
	}
	if left != "" {
		t.Errorf("bob's page holds olga's: %s", left)
	}
}

// pageState lists what of a previous person's a page could still hold
// (outside the grid), "" when nothing.
const pageState = `(() => {
  const $ = (id) => document.getElementById(id);
  const left = [];
  if ($("shares").children.length) left.push("shares: " + $("shares").textContent);
  if ($("history").tBodies[0].children.length) left.push("history rows: " + $("history").tBodies[0].children.length);
  for (const id of ["share-user", "claim-code"]) if ($(id).value) left.push(id + "=" + $(id).value);
  if (!$("login").hidden && $("login-name").value) left.push("login-name=" + $("login-name").value);
  if ($("claim-box").open) left.push("claim box open");
  if ($("viewer").open) left.push("live view open");
  if (!$("owner-tools").hidden) left.push("owner tools shown");
  if ($("who-name").textContent && $("login").hidden === false) left.push("who: " + $("who-name").textContent);
  if ($("tokens").children.length) left.push("api tokens: " + $("tokens").textContent);
  for (const id of ["token-secret", "invite-code", "watching", "add-password"]) if ($(id).textContent) left.push(id + ": " + $(id).textContent);
  for (const id of ["password-current", "password-new", "token-name", "rename-name", "add-name"]) if ($(id).value) left.push(id + "=" + $(id).value);
  if ($("tiles").children.length) left.push("live wall tiles: " + $("tiles").children.length);
  for (const id of ["account", "wall"]) if (!$(id).hidden) left.push(id + " shown");
  if (admin) left.push("admin");
  return left.join("; ");
})()`
