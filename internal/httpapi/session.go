package httpapi

import (
	"errors"
	"net/http"
	"time"

	"vigil/internal/access"
	"vigil/internal/auth"
)

// Authenticator reads credentials off requests — a session cookie (with a
// CSRF header on every state-changing request), HTTP Basic, a stream token
// — and asks auth who they are (auth.SignIn.Caller), once per request.
type Authenticator struct {
	// Credentials checks passwords, sessions and (with its Tokens) stream
	// tokens.
	Credentials *auth.SignIn
	// SecureCookies marks cookies Secure also on plain connections: people
	// reach Vigil over https through a proxy. It defaults to false: Secure
	// only on TLS connections.
	SecureCookies bool
}

const (
	sessionCookie = "vigil_session"
	csrfHeader    = "X-CSRF-Token"
)

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// signInError is what a client is told of a refused sign-in or password
// hashing: throttled (429 with Retry-After), argon2id at its bound (503),
// the rest through the error table.
func signInError(err error) error {
	var throttled *auth.ThrottledError
	switch {
	case errors.As(err, &throttled):
		return &HTTPError{Code: http.StatusTooManyRequests, RetryAfter: throttled.Wait,
			Msg: throttled.Msg + "; retry in " + retryAfter(throttled.Wait) + " s", Err: err}
	case auth.HashBusy(err):
		return errHashBusy(err)
	}
	return err
}

// errHashBusy is the answer when argon2id is at its bound: come back soon.
func errHashBusy(err error) *HTTPError {
	return &HTTPError{Code: http.StatusServiceUnavailable, Msg: auth.ErrHashBusy.Error(), Err: err, RetryAfter: time.Second}
}

// login signs a user in: a session cookie (HttpOnly, SameSite=Strict,
// Secure over TLS or with SecureCookies) and the CSRF token the page must send back.
func (a *API) login(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Name     string `json:"name"`
		Password string `json:"password"`
	}
	if err := readJSON(w, r, &body); err != nil {
		return err
	}
	c, err := a.Authn.Credentials.AccountPassword(r.Context(), body.Name, body.Password, r.RemoteAddr)
	if err != nil {
		return signInError(err)
	}
	csrf, err := a.Authn.startSession(w, r, c.ID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"user": body.Name, "admin": c.Admin, "csrf": csrf})
}

// startSession starts a session for user, sets its cookie on w (HttpOnly,
// SameSite=Strict, Secure over TLS) and returns its CSRF token.
func (au *Authenticator) startSession(w http.ResponseWriter, r *http.Request, user access.UserID) (string, error) {
	cookie, sess, err := au.Credentials.StartSession(r.Context(), user)
	if err != nil {
		return "", err
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: cookie, Path: "/", HttpOnly: true,
		Secure: r.TLS != nil || au.SecureCookies, SameSite: http.SameSiteStrictMode, Expires: sess.Expires})
	return sess.CSRF, nil
}

// logout ends the request's session.
func (a *API) logout(w http.ResponseWriter, r *http.Request) error {
	if c, err := r.Cookie(sessionCookie); err == nil {
		a.Authn.Credentials.EndSession(r.Context(), c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: r.TLS != nil || a.Authn.SecureCookies, SameSite: http.SameSiteStrictMode})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// password changes the caller's password (auth.Accounts.ChangePassword).
func (a *API) password(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Current string `json:"current"`
		New     string `json:"new"`
	}
	if err := readJSON(w, r, &body); err != nil {
		return err
	}
	err := a.Accounts.ChangePassword(r.Context(), callerOf(r), body.Current, body.New, r.RemoteAddr)
	if errors.Is(err, auth.ErrNotPassword) {
		return httpError(http.StatusForbidden, "current must be the password, not an API token", nil)
	}
	if err != nil {
		return signInError(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
