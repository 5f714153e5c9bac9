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
	"strings"
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
	// SetPassword stores a chosen password; it clears the generated one,
	// deletes every API token and ends every session but keepSession (the
	// SHA-256 of a session cookie; "" for none).
	SetPassword(ctx context.Context, user access.UserID, phc, keepSession string) error
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

// caller is who a request comes from and what its credential may do.
type caller struct {
	Name string
	auth.Principal
	// Scope is what the credential allows: ScopeAccount for a session or
	// the password, an API token's own scope otherwise.
	Scope auth.Scope
	// Bound names the credential, so stream tokens minted by this caller
	// die with it: "s:" a sign-in session, "k:" an API token, "p:" the
	// password (a fingerprint of its stored hash).
	Bound string
}

// user authenticates r and checks that its credential allows need.
func (au *Authenticator) user(r *http.Request, need auth.Scope) (caller, error) {
	c, err := au.authenticate(r)
	if err == nil && !c.Scope.Allows(need) {
		err = httpError(http.StatusForbidden, "this API token's scope does not allow that; use a token with scope "+
			string(need)+" or sign in", nil)
	}
	return c, err
}

func (au *Authenticator) authenticate(r *http.Request) (caller, error) {
	if c, err := r.Cookie(sessionCookie); err == nil && au.Sessions != nil {
		return au.sessionUser(r, c.Value)
	}
	name, pass, ok := r.BasicAuth()
	if !ok {
		return caller{}, httpError(http.StatusUnauthorized, "credentials required", nil)
	}
	return au.checkPassword(r, name, pass)
}

func (au *Authenticator) sessionUser(r *http.Request, cookie string) (caller, error) {
	sess, name, p, err := au.session(r, cookie)
	if err != nil {
		return caller{}, err
	}
	if !safeMethod(r.Method) && r.Header.Get(csrfHeader) != sess.CSRF {
		return caller{}, httpError(http.StatusForbidden, "missing or wrong "+csrfHeader, nil)
	}
	return caller{Name: name, Principal: p, Scope: auth.ScopeAccount, Bound: auth.BoundSession + sess.IDSHA256}, nil
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
// the generated credential or an API token), throttled per account and
// client address.
func (au *Authenticator) checkPassword(r *http.Request, name, pass string) (caller, error) {
	user, addr := name, clientHost(r)
	if wait := max(au.Accounts.Wait(user), au.Addresses.Wait(addr)); wait > 0 {
		return caller{}, &HTTPError{Code: http.StatusTooManyRequests,
			Msg: "too many failed sign-ins; retry in " + strconv.Itoa(int(wait.Seconds())+1) + " s"}
	}
	c := caller{Name: name}
	var err error
	c.Principal, err = au.Users.Principal(r.Context(), name)
	ok := err == nil && !c.Disabled
	if ok {
		var key string
		c.Scope, key, ok = c.Match(pass)
		c.Bound = auth.BoundAPIKey + key
		if ok && key == "" {
			c.Bound = auth.BoundPassword + auth.PasswordFingerprint(c.Credential.PassSHA256)
		}
		if !ok && au.Sessions != nil {
			phc, _ := au.Sessions.PasswordHash(r.Context(), c.ID)
			ok = phc != "" && auth.CheckPasswordHash(phc, pass)
			c.Scope, c.Bound = auth.ScopeAccount, auth.BoundPassword+auth.PasswordFingerprint(phc)
		}
	}
	if !ok {
		au.Accounts.Fail(user)
		au.Addresses.Fail(addr)
		return caller{}, httpError(http.StatusUnauthorized, "wrong user or password", err)
	}
	au.Accounts.Succeed(user)
	return c, nil
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
	c, err := a.Authn.checkPassword(r, body.Name, body.Password)
	if err != nil {
		return err
	}
	if c.Scope != auth.ScopeAccount {
		return httpError(http.StatusUnauthorized, "sign in with the password, not an API token", nil)
	}
	csrf, err := a.Authn.startSession(w, r, c.ID)
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
	if _, err := a.user(r, auth.ScopeView); err != nil {
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

// password changes the user's password and cuts off whoever knew the old
// one: the generated password, every API token and every session but the
// one making the change end, and with them the stream tokens minted in
// them; every live grant of the user ends (viewers in the kept session
// reconnect). Account links (Google, Alexa) stay: they are listed and
// ended on their own.
func (a *API) password(w http.ResponseWriter, r *http.Request) error {
	c, err := a.user(r, auth.ScopeAccount)
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
	p, err := a.Authn.checkPassword(r, c.Name, body.Current)
	if err != nil {
		return err
	}
	if p.Scope != auth.ScopeAccount {
		return httpError(http.StatusForbidden, "current must be the password, not an API token", nil)
	}
	phc, err := auth.HashPassword(body.New)
	if err != nil {
		return httpError(http.StatusBadRequest, err.Error(), err)
	}
	keep, ok := strings.CutPrefix(c.Bound, auth.BoundSession)
	if !ok {
		keep = "" // changed with HTTP Basic: no session is kept
	}
	if err := a.Authn.Sessions.SetPassword(r.Context(), p.ID, phc, keep); err != nil {
		return err
	}
	if a.Authn.Revoke != nil {
		a.Authn.Revoke(p.ID)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
