package app

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"

	"vigil/internal/auth"
	"vigil/internal/config"
	"vigil/internal/httpapi"
	"vigil/internal/oauth"
	"vigil/internal/oauth/oauthtest"
	"vigil/internal/sim"
)

// The linked services of these tests: Google's and Alexa's redirect URIs
// have these shapes; the browser never follows them, the test reads them.
const (
	googleRedirect = "https://oauth-redirect.googleusercontent.com/r/vigil-test"
	googleSecret   = "google-client-secret-for-tests"
	alexaRedirect  = "https://layla.amazon.com/api/skill/link/M2TESTTESTTEST"
	alexaSecret    = "alexa-client-secret-for-tests"
)

func withOAuthClients(c *config.Config) {
	c.OAuthClients = []config.OAuthClient{
		{ID: "google", Name: "Google Home", Kind: config.OAuthGoogle, Secret: googleSecret, RedirectURIs: []string{googleRedirect}},
		{ID: "alexa", Name: "Alexa", Kind: config.OAuthAlexa, Secret: alexaSecret, RedirectURIs: []string{alexaRedirect}},
	}
}

// google is a fresh browser of a Google user, linking through Vigil's pages.
func (a *testApp) google(t *testing.T) *oauthtest.Client {
	return oauthtest.New(t, a.url(""), "google", googleSecret, googleRedirect)
}

func (a *testApp) alexa(t *testing.T) *oauthtest.Client {
	return oauthtest.New(t, a.url(""), "alexa", alexaSecret, alexaRedirect)
}

// linkWith links user's account through c (the sign-in and consent
// pages, then the code exchange), exposing cams, and returns the access
// token.
func linkWith(t *testing.T, c *oauthtest.Client, user, pw string, cams ...string) string {
	t.Helper()
	code, verifier := c.Link(user, pw, cams...)
	tok := c.Exchange(code, verifier)
	if tok.Status != 200 {
		t.Fatalf("exchange: %+v", tok)
	}
	return tok.AccessToken
}

// household makes olga the owner of two cameras and returns her password.
func (a *testApp) household(t *testing.T) (string, *sim.Camera, *sim.Camera) {
	t.Helper()
	pw := a.addUser(t, "olga")
	porch, garage := a.addCamera(t, "porch"), a.addCamera(t, "garage")
	claimFor(t, a, porch, "olga")
	claimFor(t, a, garage, "olga")
	return pw, porch, garage
}

// linksOf lists user's links through the JSON API.
func (a *testApp) linksOf(t *testing.T, user, pass string) []httpapi.LinkView {
	t.Helper()
	status, body := a.call(t, "GET", "/api/links", user, pass, nil)
	var links []httpapi.LinkView
	if status != 200 || json.Unmarshal(body, &links) != nil {
		t.Fatalf("GET /api/links as %s: %d %s", user, status, body)
	}
	return links
}

func (a *testApp) resolves(t *testing.T, token string) bool {
	t.Helper()
	_, err := a.oauth.Resolve(context.Background(), token)
	if err != nil && !errors.Is(err, oauth.ErrTokenInvalid) {
		t.Fatalf("Resolve: %v", err)
	}
	return err == nil
}

// TestGoogleLinksAnAccount links an account the way Google does: the
// authorize URL with state and PKCE, the sign-in form, the consent page
// (one camera of two), the redirect with the code and the unchanged
// state, the code exchange, refreshes — the old refresh token working
// until the new one is used and failing after — and revocation.
func TestGoogleLinksAnAccount(t *testing.T) {
	a := startApp(t, "", withOAuthClients)
	pw, porch, garage := a.household(t)
	g := a.google(t)
	verifier, challenge := oauthtest.PKCE()
	state := "google-state-" + t.Name()
	p := g.Start(g.AuthorizeQuery(state, url.Values{"code_challenge": {challenge}, "code_challenge_method": {"S256"}}))
	if p.Status != 200 || p.CSRF == "" || !strings.Contains(p.Body, `type="password"`) ||
		!strings.Contains(p.Header.Get("Content-Security-Policy"), "form-action 'self' https://oauth-redirect.googleusercontent.com") {
		t.Fatalf("login form: %d %v", p.Status, p.Header)
	}
	p = g.SignIn(p, "olga", pw)
	if p.Status != 200 || !strings.Contains(p.Body, porch.ID) || !strings.Contains(p.Body, garage.ID) {
		t.Fatalf("consent page: %d %s", p.Status, p.Body)
	}
	// The sign-in is the web UI's: the same session works for the API.
	res, err := g.Browser.Get(a.url("/api/cameras"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("the linking session on the API: %s", res.Status)
	}
	code := g.CodeFrom(g.Consent(p, "allow", porch.ID), state)

	tok := g.Exchange(code, verifier)
	if tok.Status != 200 || tok.TokenType != "Bearer" || tok.ExpiresIn < 3500 || tok.ExpiresIn > 3600 || tok.RefreshToken == "" ||
		strings.Count(tok.AccessToken, ".") != 1 { // opaque HMAC, not a three-part JWT
		t.Fatalf("code exchange: %+v", tok)
	}
	l, err := a.oauth.Resolve(context.Background(), tok.AccessToken)
	if err != nil || !l.Exposes(deviceID(porch)) || l.Exposes(deviceID(garage)) || l.UserName != "olga" || strings.Contains(l.AgentUserID, "olga") {
		t.Fatalf("Resolve: %v %+v", err, l)
	}
	links := a.linksOf(t, "olga", pw)
	if len(links) != 1 || links[0].ID != l.ID || links[0].Name != "Google Home" || links[0].Kind != config.OAuthGoogle ||
		len(links[0].Cameras) != 1 || links[0].Cameras[0].ID != deviceID(porch) || links[0].Cameras[0].Name != "porch" {
		t.Fatalf("GET /api/links: %+v", links)
	}

	refreshRotatesWithAGrace(t, a, g, tok, pw)
	// Link again (the browser is signed in: straight to consent), with the
	// client's secret in HTTP Basic this time.
	g.Basic = true
	code, verifier = g.Link("olga", pw, porch.ID)
	revocationEndsTheLink(t, a, g, g.Exchange(code, verifier))
}

// refreshRotatesWithAGrace: R0 gives R1; R0 still works while R1 is unused
// (a lost response is retried); once the newest is used, R0 fails — and,
// being a reuse, ends the link (RFC 6819 §5.2.2.3).
func refreshRotatesWithAGrace(t *testing.T, a *testApp, g *oauthtest.Client, tok oauthtest.Tokens, pw string) {
	t.Helper()
	r1 := g.Refresh(tok.RefreshToken)
	if r1.Status != 200 || r1.AccessToken == tok.AccessToken || r1.RefreshToken == tok.RefreshToken || !a.resolves(t, r1.AccessToken) {
		t.Fatalf("refresh: %+v", r1)
	}
	r1b := g.Refresh(tok.RefreshToken)
	if r1b.Status != 200 {
		t.Fatalf("the old refresh token before the new one was used: %+v", r1b)
	}
	r2 := g.Refresh(r1b.RefreshToken)
	if r2.Status != 200 {
		t.Fatalf("refresh with the newest token: %+v", r2)
	}
	if old := g.Refresh(tok.RefreshToken); old.Status != 400 || old.Error != "invalid_grant" {
		t.Fatalf("the old refresh token after the new one was used: %+v", old)
	}
	if a.resolves(t, r2.AccessToken) || g.Refresh(r2.RefreshToken).Status != 400 || len(a.linksOf(t, "olga", pw)) != 0 {
		t.Fatal("refresh-token reuse left the link alive")
	}
}

// revocationEndsTheLink: RFC 7009 — revoking the access token ends the
// refresh token too; an unknown token is "revoked" (200).
func revocationEndsTheLink(t *testing.T, a *testApp, g *oauthtest.Client, tok oauthtest.Tokens) {
	t.Helper()
	if tok.Status != 200 || !a.resolves(t, tok.AccessToken) {
		t.Fatalf("exchange: %+v", tok)
	}
	if status, body := g.Revoke(tok.AccessToken); status != 200 {
		t.Fatalf("revoke: %d %s", status, body)
	}
	if a.resolves(t, tok.AccessToken) {
		t.Fatal("a revoked access token still resolves")
	}
	if r := g.Refresh(tok.RefreshToken); r.Status != 400 || r.Error != "invalid_grant" {
		t.Fatalf("refresh after revocation: %+v", r)
	}
	if status, _ := g.Revoke("never-issued"); status != 200 {
		t.Fatalf("revoking an unknown token: %d, want 200 (RFC 7009 §2.2)", status)
	}
}

// TestLinkingRefusals: each refused as the specs say.
func TestLinkingRefusals(t *testing.T) {
	a := startApp(t, "", withOAuthClients)
	pw, porch, _ := a.household(t)
	g, alexa := a.google(t), a.alexa(t)
	code, verifier := g.Link("olga", pw, porch.ID)

	wrong := a.google(t)
	wrong.Secret = "not-the-google-secret"
	if tok := wrong.Exchange(code, verifier); tok.Status != 401 || tok.Error != "invalid_client" {
		t.Fatalf("wrong client secret: %+v", tok)
	}
	if tok := alexa.Exchange(code, verifier); tok.Status != 400 || tok.Error != "invalid_grant" {
		t.Fatalf("Google's code exchanged by Alexa: %+v", tok)
	}
	tok := g.Exchange(code, verifier)
	if tok.Status != 200 {
		t.Fatalf("exchange: %+v", tok)
	}
	if r := alexa.Refresh(tok.RefreshToken); r.Status != 400 || r.Error != "invalid_grant" {
		t.Fatalf("Google's refresh token used by Alexa: %+v", r)
	}
	if status, body := alexa.Revoke(tok.AccessToken); status != 400 || !strings.Contains(body, "unauthorized_client") || !a.resolves(t, tok.AccessToken) {
		t.Fatalf("Alexa revoking Google's token: %d %s", status, body)
	}
	// A replayed code is invalid_grant, and what the code gave is revoked
	// (RFC 6749 §4.1.2).
	if r := g.Exchange(code, verifier); r.Status != 400 || r.Error != "invalid_grant" {
		t.Fatalf("replayed code: %+v", r)
	}
	if a.resolves(t, tok.AccessToken) {
		t.Fatal("the replayed code's access token still resolves")
	}
	if r := g.Exchange("ory_ac_bogus.bogus", verifier); r.Status != 400 || r.Error != "invalid_grant" {
		t.Fatalf("made-up code: %+v", r)
	}
	// An unregistered redirect URI gets an error page and no redirect.
	p := g.Start(g.AuthorizeQuery("some-state", url.Values{"redirect_uri": {"https://oauth-redirect.googleusercontent.com/r/other"}}))
	if p.Status != 400 || p.Location != nil {
		t.Fatalf("unregistered redirect URI: %d %v", p.Status, p.Location)
	}
	if p = alexa.Start(alexa.AuthorizeQuery("some-state", url.Values{"redirect_uri": {googleRedirect}})); p.Status != 400 || p.Location != nil {
		t.Fatalf("Google's redirect URI for Alexa: %d %v", p.Status, p.Location)
	}
}

// TestDisabledUserCannotLink: a disabled account can neither sign in on
// the linking pages nor use or refresh its links' tokens.
func TestDisabledUserCannotLink(t *testing.T) {
	a := startApp(t, "", withOAuthClients)
	pw, porch, _ := a.household(t)
	g := a.google(t)
	code, verifier := g.Link("olga", pw, porch.ID)
	tok := g.Exchange(code, verifier)
	u, _ := a.store.UserByName(context.Background(), "olga")
	u.Disabled = true
	if err := a.store.UpsertUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	if a.resolves(t, tok.AccessToken) {
		t.Fatal("a disabled user's token resolves")
	}
	if r := g.Refresh(tok.RefreshToken); r.Status != 400 || r.Error != "invalid_grant" {
		t.Fatalf("a disabled user's refresh: %+v", r)
	}
	fresh := a.google(t)
	p := fresh.SignIn(fresh.Start(fresh.AuthorizeQuery("some-state", nil)), "olga", pw)
	if p.Status != 401 || p.Location != nil || !strings.Contains(p.Body, "wrong user or password") {
		t.Fatalf("a disabled user signs in: %d %v", p.Status, p.Location)
	}
}

// TestTwoAssistantUsersLinkOneAccount: two Google users (two browsers)
// link the same Vigil account; each link has its own agentUserId and
// tokens, and unlinking one (DELETE /api/links/{id}) leaves the other.
func TestTwoAssistantUsersLinkOneAccount(t *testing.T) {
	a := startApp(t, "", withOAuthClients)
	pw, porch, garage := a.household(t)
	vera := a.addUser(t, "vera")
	first, second := a.google(t), a.google(t)
	code1, v1 := first.Link("olga", pw, porch.ID)
	code2, v2 := second.Link("olga", pw, porch.ID, garage.ID)
	tok1, tok2 := first.Exchange(code1, v1), second.Exchange(code2, v2)
	l1, err1 := a.oauth.Resolve(context.Background(), tok1.AccessToken)
	l2, err2 := a.oauth.Resolve(context.Background(), tok2.AccessToken)
	if errors.Join(err1, err2) != nil || l1.ID == l2.ID || l1.AgentUserID == l2.AgentUserID || len(l2.Devices) != 2 {
		t.Fatalf("two links: %v %v %+v %+v", err1, err2, l1, l2)
	}
	if links := a.linksOf(t, "olga", pw); len(links) != 2 {
		t.Fatalf("GET /api/links: %+v", links)
	}
	if s, _ := a.call(t, "GET", "/api/links", "", "", nil); s != 401 {
		t.Fatalf("anonymous GET /api/links: %d", s)
	}
	if links := a.linksOf(t, "vera", vera); len(links) != 0 {
		t.Fatalf("vera sees olga's links: %+v", links)
	}
	if s, _ := a.call(t, "DELETE", "/api/links/"+l1.ID, "vera", vera, nil); s != 404 {
		t.Fatalf("vera unlinks olga's link: %d", s)
	}
	if s, _ := a.call(t, "DELETE", "/api/links/"+l1.ID, "olga", pw, nil); s != 204 {
		t.Fatalf("unlink: %d", s)
	}
	if s, _ := a.call(t, "DELETE", "/api/links/"+l1.ID, "olga", pw, nil); s != 404 {
		t.Fatalf("unlink twice: %d", s)
	}
	if a.resolves(t, tok1.AccessToken) || first.Refresh(tok1.RefreshToken).Status != 400 {
		t.Fatal("the unlinked link's tokens still work")
	}
	if !a.resolves(t, tok2.AccessToken) || second.Refresh(tok2.RefreshToken).Status != 200 {
		t.Fatal("unlinking one link ended the other")
	}
	if links := a.linksOf(t, "olga", pw); len(links) != 1 || links[0].ID != l2.ID || len(links[0].Cameras) != 2 {
		t.Fatalf("GET /api/links after unlinking: %+v", links)
	}
}

// TestLinksSurviveARestart: links, tokens and a code not yet exchanged all
// work after the app is stopped and started on the same data directory.
func TestLinksSurviveARestart(t *testing.T) {
	a := startApp(t, "", withOAuthClients)
	pw, porch, _ := a.household(t)
	g := a.google(t)
	code, verifier := g.Link("olga", pw, porch.ID)
	tok := g.Exchange(code, verifier)
	pendingCode, pendingVerifier := g.Link("olga", pw, porch.ID)
	a.stop()

	b := startApp(t, a.cfg.DataDir, withOAuthClients)
	g.Base = b.url("")
	if !b.resolves(t, tok.AccessToken) {
		t.Fatal("the access token did not survive the restart")
	}
	if r := g.Refresh(tok.RefreshToken); r.Status != 200 || !b.resolves(t, r.AccessToken) {
		t.Fatalf("refresh after the restart: %+v", r)
	}
	if r := g.Exchange(pendingCode, pendingVerifier); r.Status != 200 {
		t.Fatalf("a code issued before the restart: %+v", r)
	}
	if links := b.linksOf(t, "olga", pw); len(links) != 2 || len(links[0].Cameras) != 1 {
		t.Fatalf("links after the restart: %+v", links)
	}
}

// TestTokenEndpointThrottlesWrongSecrets: after many wrong client secrets
// from one address, the token endpoint answers that address 429, even to
// the right secret, until the wait is over. Only the address is held up
// (TestGuesserElsewhereDoesNotStopGoogleRefreshing).
func TestTokenEndpointThrottlesWrongSecrets(t *testing.T) {
	a := startApp(t, "", withOAuthClients)
	pw, porch, _ := a.household(t)
	guesser := oauthtest.New(t, a.url(""), "google", "not-the-google-secret", googleRedirect)
	for i := 0; ; i++ {
		tok := guesser.Exchange("made-up-code", "")
		if tok.Status == 429 && i >= auth.AddressFailures {
			break
		}
		if tok.Status != 401 || i > auth.AddressFailures+1 {
			t.Fatalf("wrong secret %d: %d", i+1, tok.Status)
		}
	}
	g := a.google(t)
	code, verifier := g.Link("olga", pw, porch.ID)
	if tok := g.Exchange(code, verifier); tok.Status != 429 || tok.Error == "invalid_client" {
		t.Fatalf("the right secret after the wrong ones, from the same address: %d %q, want 429 without invalid_client",
			tok.Status, tok.Error)
	}
}
