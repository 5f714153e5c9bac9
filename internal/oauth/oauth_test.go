package oauth_test

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/oauth"
	"vigil/internal/oauth/oauthtest"
)

// TestPagesSignInAndConsent: the sign-in and consent pages are plain
// server-rendered forms under a strict CSP; a wrong password is refused on
// the page; a forged form is refused; the redirect carries the code and
// the unchanged state.
func TestPagesSignInAndConsent(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client(t)
	state := "opaque/state+with&odd=chars"
	p := c.Start(c.AuthorizeQuery(state, url.Values{"scope": {"cameras"}}))
	csp := p.Header.Get("Content-Security-Policy")
	if p.Status != 200 || !strings.Contains(p.Body, `name="password"`) || !strings.Contains(p.Body, "Google Home") ||
		!strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "form-action 'self' https://oauth-redirect.googleusercontent.com") ||
		!strings.Contains(csp, "frame-ancestors 'none'") || p.Header.Get("X-Frame-Options") != "DENY" ||
		strings.Contains(p.Body, "<script") || !strings.Contains(p.Body, `<label for="password">`) {
		t.Fatalf("login page: %d %v\n%s", p.Status, p.Header, p.Body)
	}
	if forged := c.Submit(oauthtest.Page{Action: p.Action, CSRF: "forged"},
		url.Values{"step": {"login"}, "name": {"olga"}, "password": {password}}); forged.Status != 403 {
		t.Fatalf("sign-in without the CSRF token: %d", forged.Status)
	}
	if wrong := c.SignIn(p, "olga", "not it"); wrong.Status != 401 || !strings.Contains(wrong.Body, "wrong user or password") {
		t.Fatalf("wrong password: %d %s", wrong.Status, wrong.Body)
	}
	consent := c.SignIn(p, "olga", password)
	if consent.Status != 200 || !strings.Contains(consent.Body, `value="cam-porch"`) || !strings.Contains(consent.Body, `value="cam-garage"`) {
		t.Fatalf("consent page: %d %s", consent.Status, consent.Body)
	}
	if bad := c.Consent(consent, "allow", "cam-elsewhere"); bad.Status != 400 || bad.Location != nil {
		t.Fatalf("consent to a camera not offered: %d %v", bad.Status, bad.Location)
	}
	if forged := c.Consent(oauthtest.Page{Action: consent.Action, CSRF: "forged"}, "allow", "cam-porch"); forged.Status != 403 || forged.Location != nil {
		t.Fatalf("consent without the CSRF token: %d", forged.Status)
	}
	code := c.CodeFrom(c.Consent(consent, "allow", "cam-porch"), state)
	tok := c.Exchange(code, "")
	if tok.Status != 200 || tok.TokenType != "Bearer" || tok.AccessToken == "" || tok.RefreshToken == "" ||
		tok.ExpiresIn < 3500 || tok.ExpiresIn > 3600 || strings.Count(tok.AccessToken, ".") != 1 {
		t.Fatalf("exchange: %+v", tok)
	}
	l, err := h.srv.Resolve(context.Background(), tok.AccessToken)
	if err != nil || l.User != "u-olga" || l.UserName != "olga" || l.Client != clientID || len(l.Devices) != 1 ||
		!l.Exposes("cam-porch") || l.Exposes("cam-garage") || !strings.HasPrefix(l.AgentUserID, "agu_") || !l.Live() {
		t.Fatalf("Resolve: %v %+v", err, l)
	}
	// Denying goes back to the service with access_denied and the state.
	p = c.Start(c.AuthorizeQuery("s2-state", nil)) // signed in now: straight to consent
	denied := c.Consent(p, "deny")
	if denied.Location == nil || denied.Location.Query().Get("error") != "access_denied" || denied.Location.Query().Get("state") != "s2-state" {
		t.Fatalf("deny: %d %v", denied.Status, denied.Location)
	}
}

// TestNoRedirectForUnknownClientsOrURIs: RFC 6749 §4.1.2.1 — an unknown
// client or unregistered redirect URI gets an error page, never a
// redirect; other bad requests go back to the (registered) URI.
func TestNoRedirectForUnknownClientsOrURIs(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client(t)
	for name, q := range map[string]url.Values{
		"unknown client":         c.AuthorizeQuery("state-123", url.Values{"client_id": {"evil"}}),
		"unregistered URI":       c.AuthorizeQuery("state-123", url.Values{"redirect_uri": {"https://evil.example/cb"}}),
		"registered URI + path":  c.AuthorizeQuery("state-123", url.Values{"redirect_uri": {redirectURI + "/x"}}),
		"registered URI + query": c.AuthorizeQuery("state-123", url.Values{"redirect_uri": {redirectURI + "?x=1"}}),
		"no redirect URI":        c.AuthorizeQuery("state-123", url.Values{"redirect_uri": {""}}),
		"two redirect URIs":      c.AuthorizeQuery("state-123", url.Values{"redirect_uri": {redirectURI, "https://evil.example/cb"}}),
	} {
		t.Run(name, func(t *testing.T) {
			p := c.Start(q)
			if p.Status != 400 || p.Location != nil || strings.Contains(p.Body, "evil") {
				t.Fatalf("%d %v %s", p.Status, p.Location, p.Body)
			}
		})
	}
	for name, extra := range map[string]url.Values{
		"plain PKCE":          {"code_challenge": {strings.Repeat("a", 43)}, "code_challenge_method": {"plain"}},
		"PKCE without method": {"code_challenge": {strings.Repeat("a", 43)}},
		"token response type": {"response_type": {"token"}},
		"form_post mode":      {"response_mode": {"form_post"}},
	} {
		t.Run(name, func(t *testing.T) {
			p := c.Start(c.AuthorizeQuery("state-123", extra))
			if p.Location == nil || !strings.HasPrefix(p.Location.String(), redirectURI+"?") || p.Location.Query().Get("error") == "" ||
				p.Location.Query().Get("code") != "" || strings.Contains(p.Body, "<script") {
				t.Fatalf("%d %v %s", p.Status, p.Location, p.Body)
			}
		})
	}
}

// TestPKCE: a challenge binds the code to its verifier, and a failed
// verifier burns the code: whoever sent it may have intercepted the code,
// so the right verifier afterwards gets invalid_grant too (leaving the
// verifier out, which fosite would take for a flow without PKCE once it
// deleted the challenge, fails as well). A code never tried wrongly works.
func TestPKCE(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client(t)
	other, _ := oauthtest.PKCE()
	for name, v := range map[string]string{"wrong verifier": other, "no verifier": "", "short verifier": "abc"} {
		t.Run(name, func(t *testing.T) {
			code, verifier := c.Link("olga", password, "cam-porch")
			if tok := c.Exchange(code, v); tok.Status != 400 || tok.Error != "invalid_grant" {
				t.Fatalf("%s: %+v", name, tok)
			}
			if tok := c.Exchange(code, verifier); tok.Status != 400 || tok.Error != "invalid_grant" {
				t.Fatalf("right verifier after a %s: %+v, want 400 invalid_grant (the code is burnt)", name, tok)
			}
		})
	}
	code, verifier := c.Link("olga", password, "cam-porch")
	if tok := c.Exchange(code, verifier); tok.Status != 200 {
		t.Fatalf("right verifier: %+v", tok)
	}
}

// TestExpiry: a code past its lifetime is invalid_grant; an access token
// past its lifetime resolves to ErrTokenExpired (authExpired: refresh),
// and a refresh brings a working one.
func TestExpiry(t *testing.T) {
	h := newHarness(t, func(c *oauth.Config) { c.CodeTTL, c.AccessTTL = 300*time.Millisecond, time.Second })
	c := h.client(t)
	code, verifier := c.Link("olga", password)
	time.Sleep(400 * time.Millisecond)
	if tok := c.Exchange(code, verifier); tok.Status != 400 || tok.Error != "invalid_grant" {
		t.Fatalf("expired code: %+v", tok)
	}
	code, verifier = c.Link("olga", password)
	tok := c.Exchange(code, verifier)
	if tok.Status != 200 {
		t.Fatalf("exchange: %+v", tok)
	}
	time.Sleep(2 * time.Second) // fosite rounds expiries to the second
	if _, err := h.srv.Resolve(context.Background(), tok.AccessToken); !errors.Is(err, oauth.ErrTokenExpired) {
		t.Fatalf("expired access token: %v", err)
	}
	fresh := c.Refresh(tok.RefreshToken)
	if _, err := h.srv.Resolve(context.Background(), fresh.AccessToken); fresh.Status != 200 || err != nil {
		t.Fatalf("after refresh: %+v %v", fresh, err)
	}
	for _, bogus := range []string{"", "x", "a.b", tok.RefreshToken, fresh.AccessToken + "x"} {
		if _, err := h.srv.Resolve(context.Background(), bogus); !errors.Is(err, oauth.ErrTokenInvalid) {
			t.Fatalf("Resolve(%q): %v", bogus, err)
		}
	}
}

// TestRacingCodeExchanges: of concurrent exchanges of one code at most one
// succeeds; the rest are invalid_grant, and, being replays, end the link.
func TestRacingCodeExchanges(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client(t)
	code, verifier := c.Link("olga", password, "cam-porch")
	var wg sync.WaitGroup
	results := make(chan oauthtest.Tokens, 6)
	for range cap(results) {
		wg.Go(func() { results <- c.Exchange(code, verifier) })
	}
	wg.Wait()
	close(results)
	var won []oauthtest.Tokens
	for r := range results {
		switch {
		case r.Status == 200:
			won = append(won, r)
		case r.Status != 400 || r.Error != "invalid_grant":
			t.Errorf("loser: %+v", r)
		}
	}
	if len(won) > 1 {
		t.Fatalf("%d exchanges of one code succeeded", len(won))
	}
	for _, w := range won {
		if _, err := h.srv.Resolve(context.Background(), w.AccessToken); !errors.Is(err, oauth.ErrTokenInvalid) {
			t.Fatalf("the winner's token survived the replay: %v", err)
		}
	}
	if n := len(h.unlinks()); n != 1 {
		t.Fatalf("OnUnlink ran %d times, want once", n)
	}
}

// TestNoSecretsStoredOrLogged: neither the database nor the debug log
// holds a code, token or token signature, the verifier, the state or the
// client secret — also after refusals, whose errors are logged.
func TestNoSecretsStoredOrLogged(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client(t)
	burnt, burntVerifier := c.Link("olga", password, "cam-porch")
	wrong, _ := oauthtest.PKCE()
	c.Exchange(burnt, wrong)         // burns the code
	c.Exchange(burnt, burntVerifier) // refused
	code, verifier := c.Link("olga", password, "cam-porch")
	tok := c.Exchange(code, verifier)
	if tok.Status != 200 {
		t.Fatalf("exchange: %+v", tok)
	}
	fresh := c.Refresh(tok.RefreshToken)
	c.Refresh(tok.RefreshToken)
	c.Refresh(fresh.RefreshToken) // reuse after the grace: ends the link
	c.Exchange(code, verifier)    // replay
	secrets := []string{code, verifier, burnt, burntVerifier, wrong, clientSecret, password}
	for _, s := range []string{code, burnt, tok.AccessToken, tok.RefreshToken, fresh.AccessToken, fresh.RefreshToken} {
		key, sig, _ := strings.Cut(s, ".")
		secrets = append(secrets, s, sig, key[len("ory_at_"):])
	}
	files, _ := filepath.Glob(filepath.Join(h.dir, "*"))
	if len(files) == 0 {
		t.Fatal("no database files")
	}
	places := map[string][]byte{"log": []byte(h.logs.String())}
	for _, f := range files {
		places[f], _ = os.ReadFile(f)
	}
	if !bytes.Contains(places["log"], []byte("level=DEBUG")) {
		t.Fatal("nothing was logged at debug level: the check is empty")
	}
	for where, b := range places {
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds %.12s…", where, s)
			}
		}
	}
}

// TestLinkLifecycle: a disabled user's tokens stop; a client removed from
// the configuration loses its tokens; SetDevices only offers the user's
// cameras; Unlink is the owner's alone and runs OnUnlink once.
func TestLinkLifecycle(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client(t)
	ctx := context.Background()
	code, verifier := c.Link("vera", password, "cam-porch")
	tok := c.Exchange(code, verifier)
	l, err := h.srv.Resolve(ctx, tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.srv.SetDevices(ctx, "u-vera", l.ID, []access.DeviceID{"cam-nowhere"}); !errors.Is(err, oauth.ErrUnknownDevice) {
		t.Fatalf("SetDevices with a camera vera cannot see: %v", err)
	}
	if err := h.srv.SetDevices(ctx, "u-olga", l.ID, nil); !errors.Is(err, oauth.ErrNotFound) {
		t.Fatalf("SetDevices on someone else's link: %v", err)
	}
	if err := h.srv.SetDevices(ctx, "u-vera", l.ID, []access.DeviceID{"cam-garage", "cam-porch", "cam-garage"}); err != nil {
		t.Fatal(err)
	}
	if l, _ = h.srv.Link(ctx, l.ID); len(l.Devices) != 2 || l.Devices[0] != "cam-garage" {
		t.Fatalf("devices after SetDevices: %v", l.Devices)
	}

	// Another server on the same store without the client: its tokens die.
	other, err := oauth.New(oauth.Config{Store: h.st, Master: h.master, SignIn: h.people, Cameras: h, Users: h.people})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Resolve(ctx, tok.AccessToken); !errors.Is(err, oauth.ErrTokenInvalid) {
		t.Fatalf("token of a removed client: %v", err)
	}

	h.people.disable("vera")
	if _, err := h.srv.Resolve(ctx, tok.AccessToken); !errors.Is(err, oauth.ErrTokenInvalid) {
		t.Fatalf("disabled user's token: %v", err)
	}
	if r := c.Refresh(tok.RefreshToken); r.Status != 400 || r.Error != "invalid_grant" {
		t.Fatalf("disabled user's refresh: %+v", r)
	}

	if err := h.srv.Unlink(ctx, "u-olga", l.ID); !errors.Is(err, oauth.ErrNotFound) {
		t.Fatalf("olga unlinks vera's link: %v", err)
	}
	if err := h.srv.Unlink(ctx, "u-vera", l.ID); err != nil {
		t.Fatal(err)
	}
	if err := h.srv.Unlink(ctx, "u-vera", l.ID); !errors.Is(err, oauth.ErrNotFound) {
		t.Fatalf("second unlink: %v", err)
	}
	if u := h.unlinks(); len(u) != 1 || u[0].ID != l.ID || u[0].Revoked.IsZero() {
		t.Fatalf("OnUnlink: %+v", u)
	}
	if _, err := h.srv.Link(ctx, l.ID); !errors.Is(err, oauth.ErrNotFound) {
		t.Fatalf("Link after unlink: %v", err)
	}
}
