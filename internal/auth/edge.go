package auth

import (
	"context"
	"crypto/subtle"
	"errors"
)

// Errors of resolving a caller at the edge.
var (
	// ErrNoCredentials is a request that presents no credential at all.
	ErrNoCredentials = errors.New("credentials required")
	// ErrCSRF is a session's request that changes state without the
	// session's CSRF token.
	ErrCSRF = errors.New("missing or wrong CSRF token")
)

// ScopeError is a credential whose scope does not allow what the route
// needs.
type ScopeError struct{ Need Scope }

func (e *ScopeError) Error() string { return "the credential's scope does not allow " + string(e.Need) }

// Presented is what a request presents to say who sent it, read off the
// request by the edge (httpapi) without judging it: judging it is Caller's.
type Presented struct {
	// Token is a stream token; only media routes take one, and it is the
	// credential when present.
	Token string
	// Cookie is a sign-in session's cookie.
	Cookie string
	// Safe marks a request that changes nothing (GET, HEAD, OPTIONS); any
	// other with a session cookie must carry the session's CSRF token.
	Safe bool
	CSRF string
	// Basic marks HTTP Basic credentials: Name and Password (the password
	// or an API token).
	Basic          bool
	Name, Password string
	// Remote is the client's address, by which password guesses are
	// throttled.
	Remote string
}

// TokenCallers resolves stream tokens to their holders (Service).
type TokenCallers interface {
	TokenCaller(ctx context.Context, raw string) (Caller, error)
}

var _ TokenCallers = (*Service)(nil)

// Caller resolves who presented pr, once, and checks that the credential
// allows need: a stream token (whose use Grant checks; it has no scope),
// else a session cookie (with its CSRF token unless pr is Safe), else HTTP
// Basic (Password, throttled). Errors: ErrNoCredentials, ErrCSRF,
// *ScopeError, and those of TokenCaller, SessionCaller and Password.
func (si *SignIn) Caller(ctx context.Context, pr Presented, need Scope) (Caller, error) {
	switch {
	case pr.Token != "":
		if si.Tokens == nil {
			return Caller{}, ErrBadToken
		}
		return si.Tokens.TokenCaller(ctx, pr.Token)
	case pr.Cookie != "" && si.Sessions != nil:
		c, sess, err := si.SessionCaller(ctx, pr.Cookie)
		if err == nil && !pr.Safe && subtle.ConstantTimeCompare([]byte(pr.CSRF), []byte(sess.CSRF)) != 1 {
			err = ErrCSRF
		}
		return allowed(c, need, err)
	case pr.Basic:
		c, err := si.Password(ctx, pr.Name, pr.Password, pr.Remote)
		return allowed(c, need, err)
	}
	return Caller{}, ErrNoCredentials
}

// allowed is c unless err or c's credential does not allow need.
func allowed(c Caller, need Scope, err error) (Caller, error) {
	if err == nil && !c.Allows(need) {
		err = &ScopeError{Need: need}
	}
	if err != nil {
		return Caller{}, err
	}
	return c, nil
}
