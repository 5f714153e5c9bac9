package httpapi

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"

	"vigil/internal/access"
	"vigil/internal/auth"
	"vigil/internal/store"
)

// SessionStore keeps sign-in sessions and the passwords people choose.
type SessionStore interface {
	CreateSession(ctx context.Context, s store.Session) error
	Session(ctx context.Context, idSHA256 string, now time.Time) (store.Session, error)
	DeleteSession(ctx context.Context, idSHA256 string) error
	PasswordHash(ctx context.Context, user access.UserID) (string, error)
	SetPassword(ctx context.Context, user access.UserID, phc string) error
	User(ctx context.Context, id access.UserID) (store.User, error)
	CreateAPIToken(ctx context.Context, t store.APIToken) error
	APITokens(ctx context.Context, user access.UserID, now time.Time) ([]store.APIToken, error)
	DeleteAPIToken(ctx context.Context, user access.UserID, id string) error
}

// Authenticator finds who a request comes from: a session cookie (with a
// CSRF header on every state-changing request) or HTTP Basic. Password
// guesses are throttled per account and per client address.
type Authenticator struct {
	Users    Principals
	Sessions SessionStore
	// Accounts and Addresses throttle failed passwords per user name and
	// per client address.
	Accounts, Addresses *auth.Throttle
	// Revoke ends a user's live grants (after a password change).
	Revoke func(access.UserID)
}

const (
	sessionCookie = "vigil_session"
	csrfHeader    = "X-CSRF-Token"
	sessionTTL    = 7 * 24 * time.Hour
)

// user authenticates r and returns the user's name and principal.
func (au *Authenticator) user(r *http.Request) (string, auth.Principal, error) {
	if c, err := r.Cookie(sessionCookie); err == nil && au.Sessions != nil {
		return au.sessionUser(r, c.Value)
	}
	name, pass, ok := r.BasicAuth()
	if !ok {
		return "", auth.Principal{}, httpError(http.StatusUnauthorized, "credentials required", nil)
	}
	p, err := au.checkPassword(r, name, pass)
	return name, p, err
}

func (au *Authenticator) sessionUser(r *http.Request, cookie string) (string, auth.Principal, error) {
	sess, name, p, err := au.session(r, cookie)
	if err != nil {
		return "", auth.Principal{}, err
	}
	if !safeMethod(r.Method) && r.Header.Get(csrfHeader) != sess.CSRF {
		return "", auth.Principal{}, httpError(http.StatusForbidden, "missing or wrong "+csrfHeader, nil)
	}
	return name, p, nil
}

// session returns the live session of cookie and its active user. It does
// not check CSRF: that is the caller's (a header for the API, a form field
// for the account-linking pages).
func (au *Authenticator) session(r *http.Request, cookie string) (store.Session, string, auth.Principal, error) {
	sess, err := au.Sessions.Session(r.Context(), hashSession(cookie), time.Now())
	if err != nil {
		return sess, "", auth.Principal{}, httpError(http.StatusUnauthorized, "session ended; sign in again", err)
	}
	u, err := au.Sessions.User(r.Context(), sess.User)
	if err != nil {
		return sess, "", auth.Principal{}, httpError(http.StatusUnauthorized, "session ended; sign in again", err)
	}
	p, err := au.Users.Principal(r.Context(), u.Name)
	if err != nil || p.Disabled {
		return sess, "", auth.Principal{}, httpError(http.StatusUnauthorized, "account disabled", err)
	}
	return sess, u.Name, p, nil
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// checkPassword verifies a password (argon2id when the user chose one, else
// the generated credential), throttled per account and client address.
func (au *Authenticator) checkPassword(r *http.Request, name, pass string) (auth.Principal, error) {
	user, addr := name, clientHost(r)
	if wait := max(au.Accounts.Wait(user), au.Addresses.Wait(addr)); wait > 0 {
		return auth.Principal{}, &HTTPError{Code: http.StatusTooManyRequests,
			Msg: "too many failed sign-ins; retry in " + strconv.Itoa(int(wait.Seconds())+1) + " s"}
	}
	p, err := au.Users.Principal(r.Context(), name)
	ok := err == nil && !p.Disabled
	if ok {
		ok = p.CheckSecret(pass)
		if !ok && au.Sessions != nil {
			phc, _ := au.Sessions.PasswordHash(r.Context(), p.ID)
			ok = phc != "" && auth.CheckPasswordHash(phc, pass)
		}
	}
	if !ok {
		au.Accounts.Fail(user)
		au.Addresses.Fail(addr)
		return auth.Principal{}, httpError(http.StatusUnauthorized, "wrong user or password", err)
	}
	au.Accounts.Succeed(user)
	return p, nil
}

func clientHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func hashSession(cookie string) string {
	sum := sha256.Sum256([]byte(cookie))
	return hex.EncodeToString(sum[:])
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// login signs a user in: a session cookie (HttpOnly, SameSite=Strict,
// Secure over TLS) and the CSRF token the page must send back.
func (a *API) login(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Name     string `json:"name"`
		Password string `json:"password"`
	}
	if err := readJSON(w, r, &body); err != nil {
		return err
	}
	p, err := a.Authn.checkPassword(r, body.Name, body.Password)
	if err != nil {
		return err
	}
	csrf, err := a.Authn.startSession(w, r, p.ID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]string{"user": body.Name, "csrf": csrf})
}

// startSession stores a new session for user, sets its cookie on w and
// returns its CSRF token.
func (au *Authenticator) startSession(w http.ResponseWriter, r *http.Request, user access.UserID) (string, error) {
	id, err1 := randomHex(32)
	csrf, err2 := randomHex(16)
	if err := errors.Join(err1, err2); err != nil {
		return "", err
	}
	now := time.Now()
	if err := au.Sessions.CreateSession(r.Context(), store.Session{IDSHA256: hashSession(id), User: user,
		CSRF: csrf, Created: now, Expires: now.Add(sessionTTL)}); err != nil {
		return "", err
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode, Expires: now.Add(sessionTTL)})
	return csrf, nil
}

// logout ends the request's session.
func (a *API) logout(w http.ResponseWriter, r *http.Request) error {
	if _, _, err := a.user(r); err != nil {
		return err
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		a.Authn.Sessions.DeleteSession(r.Context(), hashSession(c.Value))
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// password changes the user's password: every session and every live grant
// of the user ends.
func (a *API) password(w http.ResponseWriter, r *http.Request) error {
	name, _, err := a.user(r)
	if err != nil {
		return err
	}
	var body struct {
		Current string `json:"current"`
		New     string `json:"new"`
	}
	if err := readJSON(w, r, &body); err != nil {
		return err
	}
	p, err := a.Authn.checkPassword(r, name, body.Current)
	if err != nil {
		return err
	}
	phc, err := auth.HashPassword(body.New)
	if err != nil {
		return httpError(http.StatusBadRequest, err.Error(), err)
	}
	if err := a.Authn.Sessions.SetPassword(r.Context(), p.ID, phc); err != nil {
		return err
	}
	if a.Authn.Revoke != nil {
		a.Authn.Revoke(p.ID)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
