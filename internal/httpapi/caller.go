package httpapi

import (
	"context"
	"errors"
	"net/http"

	"vigil/internal/auth"
)

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

// signedIn is the edge of a route for people and tools: it has auth
// resolve the caller once — a session cookie (with CSRF on state-changing
// requests) or HTTP Basic — and check that the credential allows need, and
// hands h the request carrying the Caller (callerOf).
func (au *Authenticator) signedIn(need auth.Scope, h handlerFunc) handlerFunc {
	return au.edge(false, need, h)
}

// viewing is the edge of a media route: as signedIn with ScopeView, except
// that a stream token in `?token=` (for players that cannot send headers)
// is the credential when present. What a token may open is Grant's to
// check (viewerGrant).
func (au *Authenticator) viewing(h handlerFunc) handlerFunc {
	return au.edge(true, auth.ScopeView, h)
}

func (au *Authenticator) edge(tokens bool, need auth.Scope, h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		c, err := au.caller(r, tokens, need)
		if err != nil {
			return err
		}
		return h(w, withCaller(r, c))
	}
}

// user is r's caller, for a handler that is its own edge (signedIn).
func (au *Authenticator) user(r *http.Request, need auth.Scope) (auth.Caller, error) {
	return au.caller(r, false, need)
}

// caller has auth resolve r's caller in one call and says a refusal as
// the client is to read it.
func (au *Authenticator) caller(r *http.Request, tokens bool, need auth.Scope) (auth.Caller, error) {
	pr := presented(r, tokens)
	c, err := au.Credentials.Caller(r.Context(), pr, need)
	if err != nil {
		return auth.Caller{}, refusedCaller(pr, err)
	}
	return c, nil
}

// presented is what r presents to say who sent it, unjudged; a stream
// token only where the route takes one (tokens).
func presented(r *http.Request, tokens bool) auth.Presented {
	pr := auth.Presented{Safe: safeMethod(r.Method), CSRF: r.Header.Get(csrfHeader), Remote: r.RemoteAddr}
	if tokens {
		pr.Token = r.URL.Query().Get("token")
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		pr.Cookie = c.Value
	}
	pr.Name, pr.Password, pr.Basic = r.BasicAuth()
	return pr
}

// refusedCaller is what a client is told of credentials auth refused: a
// stream token as a refused read (no probing for cameras), a scope too
// narrow as 403, a throttled or unhashed password as signInError says, the
// rest through the table.
func refusedCaller(pr auth.Presented, err error) error {
	var scope *auth.ScopeError
	switch {
	case pr.Token != "":
		return notFoundUnless(err)
	case errors.As(err, &scope):
		return httpError(http.StatusForbidden, "this API token's scope does not allow that; use a token with scope "+
			string(scope.Need)+" or sign in", err)
	}
	return signInError(err)
}
