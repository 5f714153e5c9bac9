package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"vigil/internal/access"
	"vigil/internal/auth"
)

// from is an HTTP client whose connections come from the loopback address
// ip: Linux routes all of 127.0.0.0/8 to lo, so tests can be several
// clients without a proxy.
func from(t *testing.T, ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// do sends a request through c and returns the status, the Retry-After
// header and the body.
func do(t *testing.T, c *http.Client, req *http.Request) (int, string, string) {
	t.Helper()
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Retry-After"), string(b)
}

func loginRequest(t *testing.T, a *testApp, name, pw string) *http.Request {
	b, _ := json.Marshal(map[string]string{"name": name, "password": pw})
	req, err := http.NewRequest("POST", a.url("/api/login"), bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return req
}

func basicRequest(t *testing.T, a *testApp, name, pw string) *http.Request {
	req, err := http.NewRequest("GET", a.url("/api/cameras"), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(name, pw)
	return req
}

// choosePassword gives an existing user a chosen (argon2id) password.
func choosePassword(t *testing.T, a *testApp, name, pw string) {
	t.Helper()
	phc, err := auth.HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.store.SetPassword(context.Background(), access.UserID("u-"+name), phc, ""); err != nil {
		t.Fatal(err)
	}
}

// guessUntilThrottled sends wrong passwords for name through c until one
// is answered 429 with Retry-After; the guesser must be held up.
func guessUntilThrottled(t *testing.T, c *http.Client, req func(i int) *http.Request) {
	t.Helper()
	for i := range 60 {
		code, retry, body := do(t, c, req(i))
		switch {
		case code == http.StatusTooManyRequests && retry != "":
			return
		case code != http.StatusUnauthorized:
			t.Fatalf("guess %d: %d %q", i+1, code, body)
		}
	}
	t.Fatal("60 wrong guesses from one address were never throttled")
}

// TestGuesserElsewhereDoesNotLockTheOwner: a guesser at another address
// is throttled, while the owner keeps signing in with the session sign-in
// and with HTTP Basic; a player at the owner's own address retrying a dead
// API token does not lock the owner either (a guess at a generated secret
// counts per address only).
func TestGuesserElsewhereDoesNotLockTheOwner(t *testing.T) {
	a := startApp(t, "", nil)
	a.addUser(t, "olga")
	const pw = "olga's chosen passphrase"
	choosePassword(t, a, "olga", pw)
	guesser, owner := from(t, "127.0.0.2"), from(t, "127.0.0.1")

	guessUntilThrottled(t, guesser, func(i int) *http.Request {
		if i%2 == 0 {
			return loginRequest(t, a, "olga", "guess number "+string(rune('a'+i)))
		}
		return basicRequest(t, a, "olga", "guess number "+string(rune('a'+i)))
	})
	if code, _, body := do(t, owner, loginRequest(t, a, "olga", pw)); code != 200 {
		t.Fatalf("the owner's sign-in while a guesser is throttled: %d %q", code, body)
	}
	if code, _, body := do(t, owner, basicRequest(t, a, "olga", pw)); code != 200 {
		t.Fatalf("the owner's Basic request while a guesser is throttled: %d %q", code, body)
	}

	dead, _ := auth.NewPassword() // a deleted API token a player keeps trying
	for i := range 2 * auth.AccountFailures {
		if code, _, body := do(t, owner, basicRequest(t, a, "olga", dead)); code != 401 {
			t.Fatalf("dead token %d: %d %q", i+1, code, body)
		}
	}
	if code, _, body := do(t, owner, loginRequest(t, a, "olga", pw)); code != 200 {
		t.Fatalf("the owner's sign-in after a player's dead token: %d %q", code, body)
	}
}

// TestGuesserElsewhereDoesNotStopGoogleRefreshing: wrong client secrets
// from another address get that address throttled — 429 with Retry-After
// and not invalid_client, which Google would take for a broken link — and
// Google keeps refreshing.
func TestGuesserElsewhereDoesNotStopGoogleRefreshing(t *testing.T) {
	a := startApp(t, "", withOAuthClients)
	pw, porch, _ := a.household(t)
	g := a.google(t)
	code, verifier := g.Link("olga", pw, porch.ID)
	tok := g.Exchange(code, verifier)
	if tok.Status != 200 {
		t.Fatalf("exchange: %+v", tok)
	}
	guesser := from(t, "127.0.0.2")
	post := func(path string, form url.Values) *http.Request {
		form.Set("client_id", "google")
		form.Set("client_secret", "not-the-google-secret")
		req, _ := http.NewRequest("POST", a.url(path), strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return req
	}
	refresh := func(int) *http.Request {
		return post("/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"made-up"}})
	}
	guessUntilThrottled(t, guesser, refresh)
	for _, req := range []*http.Request{refresh(0), post("/oauth/revoke", url.Values{"token": {"made-up"}})} {
		code, retry, body := do(t, guesser, req)
		if code != http.StatusTooManyRequests || retry == "" || strings.Contains(body, "invalid_client") {
			t.Fatalf("throttled %s: %d Retry-After %q %s; want 429 with Retry-After, without invalid_client",
				req.URL.Path, code, retry, body)
		}
	}
	for i := range 3 {
		r := g.Refresh(tok.RefreshToken)
		if r.Status != 200 || !a.resolves(t, r.AccessToken) {
			t.Fatalf("Google's refresh %d while a guesser is throttled: %+v", i+1, r)
		}
		tok = r
	}
}
