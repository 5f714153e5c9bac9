// Package oauthtest is an OAuth 2.0 client for tests that links accounts
// the way Google's and Amazon's account linking does: a browser (with its
// own cookie jar) follows the authorize URL, signs in, consents and lands
// on the registered redirect URI; the service's back end then exchanges
// the code, refreshes and revokes at the token endpoints.
//
// It is only imported by tests.
package oauthtest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// Client is one linked service, and the browser of one person using it.
type Client struct {
	// Base is Vigil's base URL (http://127.0.0.1:port).
	Base                 string
	ID, Secret, Redirect string
	// Basic sends the client's credentials with HTTP Basic instead of in
	// the form body.
	Basic bool
	// Browser follows no redirects, so that the redirect to the service
	// can be inspected; it keeps cookies like a browser.
	Browser *http.Client
	t       testing.TB
}

// New returns a client with a fresh browser.
func New(t testing.TB, base, id, secret, redirect string) *Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &Client{Base: base, ID: id, Secret: secret, Redirect: redirect, t: t,
		Browser: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Page is a response of the authorize endpoint.
type Page struct {
	Status   int
	Header   http.Header
	Body     string
	Action   string // the form's target, if the page has a form
	CSRF     string // the form's CSRF field
	Location *url.URL
}

var (
	actionField = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
	csrfField   = regexp.MustCompile(`name="csrf" value="([^"]*)"`)
)

func (c *Client) page(res *http.Response, err error) Page {
	c.t.Helper()
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	p := Page{Status: res.StatusCode, Header: res.Header, Body: string(b)}
	if m := actionField.FindStringSubmatch(p.Body); m != nil {
		p.Action = html.UnescapeString(m[1])
	}
	if m := csrfField.FindStringSubmatch(p.Body); m != nil {
		p.CSRF = html.UnescapeString(m[1])
	}
	if loc, err := res.Location(); err == nil {
		p.Location = loc
	}
	return p
}

// AuthorizeQuery is the query Google sends: client_id, redirect_uri,
// state and response_type=code, plus extra (scope, PKCE…); an empty extra
// value removes the parameter.
func (c *Client) AuthorizeQuery(state string, extra url.Values) url.Values {
	q := url.Values{"client_id": {c.ID}, "redirect_uri": {c.Redirect}, "state": {state}, "response_type": {"code"}}
	for k, v := range extra {
		if len(v) == 0 || v[0] == "" {
			delete(q, k)
		} else {
			q[k] = v
		}
	}
	return q
}

// Start opens the authorize URL in the browser.
func (c *Client) Start(q url.Values) Page {
	c.t.Helper()
	return c.page(c.Browser.Get(c.Base + "/oauth/authorize?" + q.Encode()))
}

// Submit posts p's form with its CSRF field and form.
func (c *Client) Submit(p Page, form url.Values) Page {
	c.t.Helper()
	if p.Action == "" {
		c.t.Fatalf("page %d has no form: %.300s", p.Status, p.Body)
	}
	f := url.Values{"csrf": {p.CSRF}}
	for k, v := range form {
		f[k] = v
	}
	return c.page(c.Browser.PostForm(c.Base+p.Action, f))
}

// SignIn fills in the sign-in form of p.
func (c *Client) SignIn(p Page, user, password string) Page {
	c.t.Helper()
	return c.Submit(p, url.Values{"step": {"login"}, "name": {user}, "password": {password}})
}

// Consent answers the consent form of p: allow (with the cameras ticked)
// or deny.
func (c *Client) Consent(p Page, decision string, cameras ...string) Page {
	c.t.Helper()
	return c.Submit(p, url.Values{"step": {"consent"}, "decision": {decision}, "camera": cameras})
}

// PKCE returns a fresh code verifier and its S256 challenge (RFC 7636).
func PKCE() (verifier, challenge string) {
	verifier = rand.Text() + rand.Text() // 52 base32 characters
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// Link runs the whole browser part with PKCE S256 and returns the code
// from the redirect, checking that it went to the registered URI with the
// state unchanged; it also returns the verifier.
func (c *Client) Link(user, password string, cameras ...string) (code, verifier string) {
	c.t.Helper()
	verifier, challenge := PKCE()
	state := "st-" + rand.Text()
	p := c.Start(c.AuthorizeQuery(state, url.Values{"code_challenge": {challenge}, "code_challenge_method": {"S256"}}))
	if p.Status == http.StatusOK && p.CSRF != "" && strings.Contains(p.Body, `name="password"`) {
		p = c.SignIn(p, user, password)
	}
	p = c.Consent(p, "allow", cameras...)
	return c.CodeFrom(p, state), verifier
}

// CodeFrom checks that p redirects to the registered URI with state and
// returns the code.
func (c *Client) CodeFrom(p Page, state string) string {
	c.t.Helper()
	if p.Location == nil || p.Status/100 != 3 {
		c.t.Fatalf("want a redirect to %s, got %d: %.300s", c.Redirect, p.Status, p.Body)
	}
	q := p.Location.Query()
	got := *p.Location
	got.RawQuery = ""
	if got.String() != c.Redirect || q.Get("state") != state || q.Get("code") == "" {
		c.t.Fatalf("redirect %s: want %s with state %q and a code", p.Location, c.Redirect, state)
	}
	return q.Get("code")
}

// Tokens is a token endpoint's answer, success or error.
type Tokens struct {
	Status       int    `json:"-"`
	TokenType    string `json:"token_type"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int    `json:"expires_in"`
	Error        string `json:"error"`
}

// post sends a form to a token endpoint with the client's credentials.
func (c *Client) post(path string, form url.Values) (int, []byte) {
	c.t.Helper()
	if c.Basic {
		form.Del("client_secret")
	} else {
		form.Set("client_id", c.ID)
		form.Set("client_secret", c.Secret)
	}
	req, _ := http.NewRequest(http.MethodPost, c.Base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if c.Basic {
		// RFC 6749 §2.3.1: form-encoded, then Basic.
		req.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(c.Secret))
	}
	// The service's own server posts, not the browser: no cookies, but
	// the same transport (a test's TLS roots).
	res, err := (&http.Client{Transport: c.Browser.Transport}).Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func (c *Client) tokens(form url.Values) Tokens {
	c.t.Helper()
	status, body := c.post("/oauth/token", form)
	var t Tokens
	if len(body) > 0 {
		if err := json.Unmarshal(body, &t); err != nil {
			c.t.Fatalf("token endpoint answered %d with %q: %v", status, body, err)
		}
	}
	t.Status = status
	return t
}

// Exchange trades a code (and PKCE verifier, if any) for tokens.
func (c *Client) Exchange(code, verifier string) Tokens {
	c.t.Helper()
	f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {c.Redirect}}
	if verifier != "" {
		f.Set("code_verifier", verifier)
	}
	return c.tokens(f)
}

// Refresh trades a refresh token for new tokens.
func (c *Client) Refresh(refresh string) Tokens {
	c.t.Helper()
	return c.tokens(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
}

// Revoke revokes a token (RFC 7009) and returns the status and body.
func (c *Client) Revoke(token string) (int, string) {
	c.t.Helper()
	status, body := c.post("/oauth/revoke", url.Values{"token": {token}})
	return status, string(body)
}
