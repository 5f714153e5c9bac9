package oauth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"slices"

	"github.com/ory/fosite"

	"vigil/internal/config"
)

// Client is a service that may link accounts, as configured.
type Client struct {
	ID   string
	Name string
	Kind config.OAuthKind
	// RedirectURIs are matched exactly.
	RedirectURIs []string
	secretSHA256 []byte
}

func newClient(c config.OAuthClient) *Client {
	sum := sha256.Sum256([]byte(c.Secret.Reveal()))
	return &Client{ID: c.ID, Name: c.Name, Kind: c.Kind, RedirectURIs: c.Redirects(), secretSHA256: sum[:]}
}

// allowsRedirect reports whether uri is registered, comparing whole
// strings (RFC 6749 §3.1.2.3): no prefixes, and none of the loopback port
// leniency fosite would otherwise allow.
func (c *Client) allowsRedirect(uri string) bool { return slices.Contains(c.RedirectURIs, uri) }

// fositeClient is a confidential client allowed the authorization-code and
// refresh-token grants only.
type fositeClient struct{ c *Client }

var _ fosite.Client = fositeClient{}

func (f fositeClient) GetID() string                      { return f.c.ID }
func (f fositeClient) GetHashedSecret() []byte            { return f.c.secretSHA256 }
func (f fositeClient) GetRedirectURIs() []string          { return f.c.RedirectURIs }
func (f fositeClient) GetResponseTypes() fosite.Arguments { return fosite.Arguments{"code"} }
func (f fositeClient) IsPublic() bool                     { return false }
func (f fositeClient) GetAudience() fosite.Arguments      { return nil }

// GetScopes is empty: scopes grant nothing in Vigil (the cameras chosen on
// the consent page do), so any requested scope is accepted and recorded;
// see anyScope.
func (f fositeClient) GetScopes() fosite.Arguments { return nil }

func (f fositeClient) GetGrantTypes() fosite.Arguments {
	return fosite.Arguments{"authorization_code", "refresh_token"}
}

// anyScope is the scope strategy: assistants send whatever scope their
// console was set up with, and it decides nothing here.
func anyScope([]string, string) bool { return true }

// secretHasher compares client secrets by SHA-256 in constant time. The
// secrets are configured machine secrets (at least 16 characters), and
// bcrypt, fosite's default, would cost a token request ~100 ms of CPU for
// no gain: the plain secret sits in the configuration anyway.
type secretHasher struct{}

var _ fosite.Hasher = secretHasher{}

var errWrongSecret = errors.New("wrong client secret")

func (secretHasher) Compare(_ context.Context, hash, data []byte) error {
	sum := sha256.Sum256(data)
	if subtle.ConstantTimeCompare(sum[:], hash) != 1 {
		return errWrongSecret
	}
	return nil
}

func (secretHasher) Hash(_ context.Context, data []byte) ([]byte, error) {
	sum := sha256.Sum256(data)
	return sum[:], nil
}
