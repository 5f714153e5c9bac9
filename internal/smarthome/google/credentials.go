package google

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/jwt"
)

// homeGraphScope is the OAuth scope HomeGraph calls need.
const homeGraphScope = "https://www.googleapis.com/auth/homegraph"

// serviceAccount is the part of a Google service account key file
// (the JSON the Cloud console downloads) that signing in needs.
type serviceAccount struct {
	Type         string `json:"type"`
	ClientEmail  string `json:"client_email"`
	PrivateKey   string `json:"private_key"`
	PrivateKeyID string `json:"private_key_id"`
	TokenURI     string `json:"token_uri"`
}

// ServiceAccountToken returns a ReporterConfig.Token that signs in as the
// service account in the key file at path (the OAuth 2.0 JWT-bearer
// grant, RFC 7523) and reuses each access token until it nearly expires.
func ServiceAccountToken(path string) (func(context.Context) (string, error), error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("homegraph credentials: %w", err)
	}
	var sa serviceAccount
	if err := json.Unmarshal(b, &sa); err != nil {
		return nil, fmt.Errorf("homegraph credentials %s: not a service account key: %w", path, err)
	}
	if sa.Type != "service_account" || sa.ClientEmail == "" || sa.PrivateKey == "" || sa.TokenURI == "" {
		return nil, fmt.Errorf("homegraph credentials %s: want a service account key file with client_email, private_key and token_uri", path)
	}
	conf := &jwt.Config{Email: sa.ClientEmail, PrivateKey: []byte(sa.PrivateKey), PrivateKeyID: sa.PrivateKeyID,
		Scopes: []string{homeGraphScope}, TokenURL: sa.TokenURI}
	// The token source outlives any one call, so it gets its own context
	// and a client whose timeout bounds each fetch.
	hc := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Timeout: 10 * time.Second})
	src := oauth2.ReuseTokenSource(nil, conf.TokenSource(hc))
	return func(ctx context.Context) (string, error) {
		tok, err := src.Token()
		if err != nil {
			return "", fmt.Errorf("homegraph sign-in as %s: %w", sa.ClientEmail, err)
		}
		if tok.AccessToken == "" {
			return "", errors.New("homegraph sign-in: no access token")
		}
		return tok.AccessToken, nil
	}, nil
}
