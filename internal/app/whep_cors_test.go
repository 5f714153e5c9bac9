package app

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"vigil/internal/chromium"
	"vigil/internal/sim"
	"vigil/internal/testkit"
)

// TestWHEPFromAnotherOrigin: a page on another origin plays a camera over
// WHEP with a stream token, in Chromium, which enforces CORS: the preflight
// allows POST, DELETE and Content-Type, the answer's Location is exposed,
// and the page hangs up with DELETE. The same page's POST with the
// viewer's session cookie instead of a token is refused, and no session
// is made.
func TestWHEPFromAnotherOrigin(t *testing.T) {
	needChromium(t)
	a := startApp(t, "", nil)
	cam := a.addCamera(t, "porch")
	a.run(t, cam)
	pw := a.addUser(t, "olga")
	claimFor(t, a, cam, "olga")
	m := a.mintWith(t, cam.ID, nil, basicAuth("olga", pw))
	whep := a.url("/api/cameras/" + cam.ID + "/whep")

	// The preflight, as Chromium sends it.
	req, _ := http.NewRequest("OPTIONS", whep+"?token="+url.QueryEscape(m.Token), nil)
	req.Header.Set("Origin", "https://elsewhere.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "content-type")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	h := res.Header
	if res.StatusCode != 204 || h.Get("Access-Control-Allow-Origin") != "https://elsewhere.example" ||
		!strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") || !strings.Contains(h.Get("Access-Control-Allow-Methods"), "DELETE") ||
		!strings.Contains(strings.ToLower(h.Get("Access-Control-Allow-Headers")), "content-type") ||
		h.Get("Access-Control-Allow-Credentials") != "" {
		t.Fatalf("WHEP preflight: %d %v", res.StatusCode, h)
	}

	pages := http.NewServeMux()
	pages.HandleFunc("GET /token", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = whepPage.Execute(w, whep+"?token="+url.QueryEscape(m.Token))
	})
	pages.HandleFunc("GET /blank", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<!doctype html><title>elsewhere</title>")
	})
	other := httptest.NewServer(pages)
	t.Cleanup(other.Close)
	tab := startChromium(t)

	if got := watch(t, tab, other.URL+"/token"); got != sim.CodeFor(cam.ID) {
		t.Fatalf("block code %x over cross-origin WHEP, want %x", got, sim.CodeFor(cam.ID))
	}
	del := fmt.Sprintf(`fetch(new URL(player.session, %q), {method: "DELETE"}).then((r) => r.status)`, a.url("/"))
	status, err := chromedp.Run(tab, chromedp.Evaluate[int](del, chromedp.EvalAwaitPromise))
	if err != nil || status != 204 {
		t.Fatalf("cross-origin DELETE of the session: %d %v", status, err)
	}
	testkit.WaitFor(t, 10*time.Second, "the session to end", func() error {
		if n := a.webrtc.Sessions(); n != 0 {
			return fmt.Errorf("%d sessions", n)
		}
		return nil
	})

	// Signed in on Vigil's origin, the other origin's page tries the cookie.
	if err := chromium.SignIn(tab, a.url("/"), "olga", pw); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(tab, chromedp.Navigate(other.URL+"/blank")); err != nil {
		t.Fatal(err)
	}
	post := fmt.Sprintf(`fetch(%q, {method: "POST", credentials: "include", headers: {"Content-Type": "application/sdp"}, body: %q})
		.then((r) => "status " + r.status, (e) => "refused: " + e)`, whep, whepOffer(t))
	out, err := chromedp.Run(tab, chromedp.Evaluate[string](post, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "refused") || a.webrtc.Sessions() != 0 {
		t.Fatalf("cookie-authenticated cross-origin WHEP POST: %s, %d sessions", out, a.webrtc.Sessions())
	}
}
