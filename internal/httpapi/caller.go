package httpapi

import (
	"context"
	"net/http"

	"vigil/internal/auth"
)

// TokenCallers resolves a stream token to its holder (auth.Service).
type TokenCallers interface {
	TokenCaller(ctx context.Context, raw string) (auth.Caller, error)
}

var _ TokenCallers = (*auth.Service)(nil)

// callerKey keys the request's Caller in its context.
type callerKey struct{}

// callerOf is the request's caller, put in its context by the middleware
// of its route (signedIn, viewing); the zero Caller on a route without one.
func callerOf(r *http.Request) auth.Caller {
	c, _ := r.Context().Value(callerKey{}).(auth.Caller)
	return c
}

// withCaller returns r carrying c.
func withCaller(r *http.Request, c auth.Caller) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), callerKey{}, c))
}

// signedIn is the edge of a route for people and tools: it resolves the
// caller once — a session cookie (with CSRF on state-changing requests) or
// HTTP Basic — checks that the credential allows need, and hands h the
// request carrying the Caller (callerOf).
func (au *Authenticator) signedIn(need auth.Scope, h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		c, err := au.user(r, need)
		if err != nil {
			return err
		}
		return h(w, withCaller(r, c))
	}
}

// viewing is the edge of a media route: as signedIn with ScopeView, except
// that a stream token in `?token=` (for players that cannot send headers)
// is the credential when present. What a token may open is Grant's to
// check (viewerGrant).
func (au *Authenticator) viewing(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		raw := r.URL.Query().Get("token")
		if raw == "" {
			return au.signedIn(auth.ScopeView, h)(w, r)
		}
		if au.Tokens == nil {
			return notFoundUnless(auth.ErrBadToken)
		}
		c, err := au.Tokens.TokenCaller(r.Context(), raw)
		if err != nil {
			return notFoundUnless(err)
		}
		return h(w, withCaller(r, c))
	}
}
