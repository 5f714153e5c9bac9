package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// OAuthClient is a service that may link Vigil accounts (Google Home,
// Alexa) through the OAuth 2.0 authorization-code flow.
type OAuthClient struct {
	// ID is the client_id the service sends. Required, unique.
	ID string `yaml:"id"`
	// Secret is the client_secret, at least 16 characters. Required.
	Secret Secret `yaml:"secret"`
	// RedirectURIs are compared exactly (no prefix, no loopback port
	// leniency) with the redirect_uri of every request. https, or http on
	// a loopback host for tests. At least one.
	RedirectURIs []string `yaml:"redirect_uris"`
	// Kind is google, alexa or other. It defaults to other.
	Kind OAuthKind `yaml:"kind"`
	// Name is shown to people on the consent page. It defaults to ID.
	Name string `yaml:"name"`

	// The rest is for kind alexa only.

	// VendorID is the Alexa skill's vendor id (the Alexa developer
	// console's "Alexa Redirect URLs" end with it): the three regional
	// redirect URIs, https://{pitangui.amazon.com, layla.amazon.com,
	// alexa.amazon.co.jp}/api/skill/link/<vendor id>, follow from it and
	// join RedirectURIs. It defaults to none.
	VendorID string `yaml:"vendor_id"`
	// EventsClientID and EventsClientSecret are the skill's "Send Alexa
	// Events" credentials (its permissions page): with them Vigil exchanges
	// AcceptGrant's code at Login with Amazon. They default to none:
	// AcceptGrant then fails and nothing is reported to Alexa.
	EventsClientID     string `yaml:"events_client_id"`
	EventsClientSecret Secret `yaml:"events_client_secret"`
}

// alexaLinkHosts are the hosts of Alexa's regional redirect URIs: North
// America, Europe and India, the Far East.
var alexaLinkHosts = []string{"pitangui.amazon.com", "layla.amazon.com", "alexa.amazon.co.jp"}

// Redirects are the redirect URIs the client may use: RedirectURIs, then
// for an Alexa client with a vendor id its three regional ones.
func (c OAuthClient) Redirects() []string {
	out := append([]string(nil), c.RedirectURIs...)
	if c.Kind != OAuthAlexa || c.VendorID == "" {
		return out
	}
	for _, h := range alexaLinkHosts {
		if u := "https://" + h + "/api/skill/link/" + c.VendorID; !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	return out
}

// OAuthKind says which assistant an OAuth client is.
type OAuthKind string

// OAuth client kinds.
const (
	OAuthGoogle OAuthKind = "google"
	OAuthAlexa  OAuthKind = "alexa"
	OAuthOther  OAuthKind = "other"
)

// Validate reports whether k is one of the known kinds.
func (k OAuthKind) Validate() error {
	switch k {
	case OAuthGoogle, OAuthAlexa, OAuthOther:
		return nil
	}
	return fmt.Errorf("unknown kind %q: want google, alexa or other", string(k))
}

// minClientSecret is the shortest client secret accepted.
const minClientSecret = 16

// oauthClients parses a YAML (or JSON, which is YAML) list of clients:
// the same text whether it comes from the file, VIGIL_OAUTH_CLIENTS or
// --oauth-clients. Unknown keys are errors, as in the file itself.
func oauthClients(field func(*Config) *[]OAuthClient) func(*Config, string) error {
	return func(c *Config, v string) error {
		var out []OAuthClient
		dec := yaml.NewDecoder(bytes.NewReader([]byte(v)))
		dec.KnownFields(true)
		if err := dec.Decode(&out); err != nil && !errors.Is(err, io.EOF) { // EOF: empty, no clients
			return fmt.Errorf("want a list of {id, secret, redirect_uris, kind, name, vendor_id, events_client_id, events_client_secret}: %s", yamlProblem(err))
		}
		for i := range out {
			if out[i].Kind == "" {
				out[i].Kind = OAuthOther
			}
			if out[i].Name == "" {
				out[i].Name = out[i].ID
			}
		}
		if len(out) == 0 {
			out = nil // "[]" is the default: none
		}
		*field(c) = out
		return nil
	}
}

// yamlProblem keeps the decoder's description but never echoes values: a
// client secret must not reach an error message.
func yamlProblem(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		var lines []string
		for _, e := range te.Errors {
			if strings.Contains(e, "field") {
				lines = append(lines, e)
			} else {
				lines = append(lines, "a value has the wrong type")
			}
		}
		return strings.Join(lines, "; ")
	}
	return "malformed YAML"
}

// validateOAuthClients reports every problem with the clients, each naming
// the client's index and id (never its secret).
func (c Config) validateOAuthClients() []error {
	var errs []error
	bad := func(i int, id, problem string) {
		errs = append(errs, fmt.Errorf("oauth_clients[%d] (id %q): %s; fix it in oauth_clients (or %s)",
			i, id, problem, envName("oauth_clients")))
	}
	seen := map[string]bool{}
	for i, cl := range c.OAuthClients {
		switch {
		case strings.TrimSpace(cl.ID) == "" || strings.ContainsAny(cl.ID, " \t\r\n:"):
			bad(i, cl.ID, "id must be non-empty, without spaces or ':'")
		case seen[cl.ID]:
			bad(i, cl.ID, "id repeated; client ids must be unique")
		}
		seen[cl.ID] = true
		if len(cl.Secret.Reveal()) < minClientSecret {
			bad(i, cl.ID, fmt.Sprintf("secret must be at least %d characters", minClientSecret))
		}
		if err := cl.Kind.Validate(); err != nil {
			bad(i, cl.ID, err.Error())
		}
		if len(cl.Redirects()) == 0 {
			bad(i, cl.ID, "redirect_uris must list at least one URI (or, for alexa, set vendor_id)")
		}
		alexaProblems(cl, func(problem string) { bad(i, cl.ID, problem) })
		for _, u := range cl.RedirectURIs {
			if problem := redirectProblem(u); problem != "" {
				bad(i, cl.ID, fmt.Sprintf("redirect URI %q %s", u, problem))
			}
		}
	}
	return errs
}

// alexaProblems checks the Alexa-only fields: set only for kind alexa, a
// vendor id of letters and digits, and both events credentials or none.
func alexaProblems(cl OAuthClient, bad func(string)) {
	if cl.Kind != OAuthAlexa {
		if cl.VendorID != "" || cl.EventsClientID != "" || cl.EventsClientSecret != "" {
			bad("vendor_id, events_client_id and events_client_secret are for kind alexa only")
		}
		return
	}
	if cl.VendorID != "" && strings.IndexFunc(cl.VendorID, func(r rune) bool {
		return !('A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || '0' <= r && r <= '9')
	}) >= 0 {
		bad("vendor_id must be letters and digits, as the Alexa console shows it (M2ABCDEF12345)")
	}
	if (cl.EventsClientID == "") != (cl.EventsClientSecret == "") {
		bad("events_client_id and events_client_secret go together (the skill's Send Alexa Events credentials)")
	}
}

// redirectProblem checks a redirect URI (RFC 6749 §3.1.2): absolute, no
// fragment, https unless the host is loopback (RFC 8252 §7.3, for tests
// and native apps).
func redirectProblem(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "":
		return "is not an absolute URI"
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return "must not have a fragment"
	case u.User != nil:
		return "must not carry credentials"
	case u.Scheme == "https":
		return ""
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return ""
	}
	return "must use https (http only on a loopback host)"
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
