package oauth_test

import (
	"net/url"
	"testing"

	"vigil/internal/config"
	"vigil/internal/oauth"
	"vigil/internal/oauth/oauthtest"
)

// TestAlexaLinksThroughEveryRegion: an Alexa client configured with its
// vendor id alone links through each of Amazon's three regional redirect
// URIs, and through no other vendor's.
func TestAlexaLinksThroughEveryRegion(t *testing.T) {
	const secret = "alexa-secret-0123456789"
	h := newHarness(t, func(c *oauth.Config) {
		c.Clients = append(c.Clients, config.OAuthClient{ID: "alexa", Name: "Alexa", Kind: config.OAuthAlexa,
			Secret: secret, VendorID: "M2VIGILTEST"})
	})
	for _, host := range []string{"pitangui.amazon.com", "layla.amazon.com", "alexa.amazon.co.jp"} {
		redirect := "https://" + host + "/api/skill/link/M2VIGILTEST"
		c := oauthtest.New(t, h.http.URL, "alexa", secret, redirect)
		code, verifier := c.Link("olga", password, "cam-porch")
		if tok := c.Exchange(code, verifier); tok.Status != 200 || tok.AccessToken == "" {
			t.Fatalf("%s: %+v", host, tok)
		}
	}
	c := oauthtest.New(t, h.http.URL, "alexa", secret, "")
	for _, other := range []string{"https://layla.amazon.com/api/skill/link/M2OTHERVENDOR",
		"https://layla.amazon.com/api/skill/link/M2VIGILTEST/x", "https://evil.example/api/skill/link/M2VIGILTEST"} {
		if p := c.Start(c.AuthorizeQuery("s", url.Values{"redirect_uri": {other}})); p.Status != 400 || p.Location != nil {
			t.Errorf("%s: %d %v", other, p.Status, p.Location)
		}
	}
}
