package httpapi

import (
	"errors"
	"net/http"

	"vigil/internal/oauth"
)

// The account-linking pages sign people in with the web UI's sessions: a
// person who signs in there is signed in here too, and the other way round.
var _ oauth.SignIn = (*Authenticator)(nil)

// SignedIn returns the account of r's session cookie. CSRF is the
// caller's to check: the linking pages send it as a form field.
func (au *Authenticator) SignedIn(r *http.Request) (oauth.Account, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || au.Credentials.Sessions == nil {
		return oauth.Account{}, errors.New("not signed in")
	}
	p, sess, err := au.Credentials.SessionCaller(r.Context(), c.Value)
	if err != nil {
		return oauth.Account{}, err
	}
	return oauth.Account{ID: p.ID, Name: p.Name, CSRF: sess.CSRF}, nil
}

// SignIn checks a password as POST /api/login does — same throttling,
// same argon2id and generated credentials — and starts a session.
func (au *Authenticator) SignIn(w http.ResponseWriter, r *http.Request, name, password string) (oauth.Account, error) {
	if au.Credentials.Sessions == nil {
		return oauth.Account{}, errors.New("sign-in needs a session store")
	}
	p, err := au.Credentials.AccountPassword(r.Context(), name, password, r.RemoteAddr)
	err = signInError(err)
	var he *HTTPError
	if err != nil && !errors.As(err, &he) {
		he = clientError(err)
	}
	if he != nil && (he.Code < 500 || he.Code == http.StatusServiceUnavailable) {
		if he.RetryAfter > 0 {
			w.Header().Set("Retry-After", retryAfter(he.RetryAfter))
		}
		return oauth.Account{}, &oauth.RefusedError{Code: he.Code, Msg: he.Msg, Err: he.Err}
	}
	if err != nil {
		return oauth.Account{}, err
	}
	csrf, err := au.startSession(w, r, p.ID)
	if err != nil {
		return oauth.Account{}, err
	}
	return oauth.Account{ID: p.ID, Name: name, CSRF: csrf}, nil
}
