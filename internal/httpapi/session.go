package httpapi

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
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
	// Accounts and Addresses throttle failed passwords per (user name,
	// client address) and per client address.
	Accounts, Addresses *auth.Throttle
	// Hasher bounds the argon2id work of every sign-in, sign-up and
	// password change.
	Hasher *auth.Hasher
	// Revoke ends a user's live grants (after a password change).
	Revoke func(access.UserID)
	// Tokens resolves stream tokens on media routes; nil refuses them.
	Tokens TokenCallers
}

const (
	sessionCookie = "vigil_session"
	csrfHeader    = "X-CSRF-Token"
	sessionTTL    = 7 * 24 * time.Hour
)

// user authenticates r and checks that its credential allows need.
func (au *Authenticator) user(r *http.Request, need auth.Scope) (auth.Caller, error) {
	c, err := au.authenticate(r)
	if err == nil && !c.Allows(need) {
		err = httpError(http.StatusForbidden, "this API token's scope does not allow that; use a token with scope "+
			string(need)+" or sign in", nil)
	}
	return c, err
}

func (au *Authenticator) authenticate(r *http.Request) (auth.Caller, error) {
	if c, err := r.Cookie(sessionCookie); err == nil && au.Sessions != nil {
		return au.sessionUser(r, c.Value)
	}
	name, pass, ok := r.BasicAuth()
	if !ok {
		return auth.Caller{}, httpError(http.StatusUnauthorized, "credentials required", nil)
	}
	return au.checkPassword(r, name, pass)
}

func (au *Authenticator) sessionUser(r *http.Request, cookie string) (auth.Caller, error) {
	sess, _, p, err := au.session(r, cookie)
	if err != nil {
		return auth.Caller{}, err
	}
	if !safeMethod(r.Method) && r.Header.Get(csrfHeader) != sess.CSRF {
		return auth.Caller{}, httpError(http.StatusForbidden, "missing or wrong "+csrfHeader, nil)
	}
	return auth.Caller{Principal: p, Scope: auth.ScopeAccount, Binding: auth.Binding{Via: auth.ViaSession, ID: sess.IDSHA256}}, nil
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
// the generated credential or an API token), throttled per (account,
// client address) and per client address, so a guesser elsewhere never
// locks the owner out. A guess shaped like a generated secret counts per
// address only (auth.Generated). The attempt is counted before any hashing
// and taken back if it succeeds.
func (au *Authenticator) checkPassword(r *http.Request, name, pass string) (auth.Caller, error) {
	k := au.guessKeys(name, pass, r)
	if wait := au.try(k); wait > 0 {
		return auth.Caller{}, &HTTPError{Code: http.StatusTooManyRequests, RetryAfter: wait,
			Msg: "too many failed sign-ins from this address; retry in " + retryAfter(wait) + " s"}
	}
	c, err := au.match(r.Context(), name, pass)
	if hashBusy(err) {
		au.refund(k) // nothing was checked
		return auth.Caller{}, errHashBusy(err)
	}
	if err != nil {
		return auth.Caller{}, httpError(http.StatusUnauthorized, "wrong user or password", err)
	}
	au.succeed(k)
	return c, nil
}

// guess names the throttle keys of one password attempt; account is ""
// when the guess cannot lock the account.
type guess struct{ account, addr string }

func (au *Authenticator) guessKeys(name, pass string, r *http.Request) guess {
	k := guess{addr: auth.AddressKey(r.RemoteAddr)}
	if !auth.Generated(pass) {
		k.account = name + "\x00" + k.addr
	}
	return k
}

// try counts the attempt (see auth.Throttle.Try) or returns the wait.
func (au *Authenticator) try(k guess) time.Duration {
	if k.account != "" {
		if wait := au.Accounts.Try(k.account); wait > 0 {
			return wait
		}
	}
	wait := au.Addresses.Try(k.addr)
	if wait > 0 && k.account != "" {
		au.Accounts.Refund(k.account)
	}
	return wait
}

func (au *Authenticator) refund(k guess) {
	if k.account != "" {
		au.Accounts.Refund(k.account)
	}
	au.Addresses.Refund(k.addr)
}

func (au *Authenticator) succeed(k guess) {
	if k.account != "" {
		au.Accounts.Succeed(k.account)
	}
	au.Addresses.Refund(k.addr)
}

// errWrongPassword is a password that matched nothing.
var errWrongPassword = errors.New("wrong password")

// match finds what pass is of the user name: the generated password, an
// API token or (argon2id, within the Hasher's bound) the chosen password.
func (au *Authenticator) match(ctx context.Context, name, pass string) (auth.Caller, error) {
	var c auth.Caller
	var err error
	if c.Principal, err = au.Users.Principal(ctx, name); err != nil {
		return auth.Caller{}, err
	}
	if c.Disabled {
		return auth.Caller{}, errors.New("account disabled")
	}
	scope, key, ok := c.Match(pass)
	switch {
	case ok && key == "":
		c.Scope, c.Binding = scope, auth.Binding{Via: auth.ViaPassword, ID: auth.PasswordFingerprint(c.Credential.PassSHA256)}
	case ok:
		c.Scope, c.Binding = scope, auth.Binding{Via: auth.ViaAPIToken, ID: key}
	case au.Sessions != nil:
		phc, err := au.Sessions.PasswordHash(ctx, c.ID)
		if err != nil {
			return auth.Caller{}, err
		}
		if ok, err = au.Hasher.Check(ctx, phc, pass); err != nil {
			return auth.Caller{}, err
		}
		c.Scope, c.Binding = auth.ScopeAccount, auth.Binding{Via: auth.ViaPassword, ID: auth.PasswordFingerprint(phc)}
	}
	if !ok {
		return auth.Caller{}, errWrongPassword
	}
	return c, nil
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

// hash hashes a new password within the Hasher's bound.
func (au *Authenticator) hash(r *http.Request, password string) (string, error) {
	phc, err := au.Hasher.Hash(r.Context(), password)
	switch {
	case errors.Is(err, auth.ErrWeakPassword):
		return "", httpError(http.StatusBadRequest, err.Error(), err)
	case hashBusy(err):
		return "", errHashBusy(err)
	}
	return phc, err
}

// hashBusy reports whether err says a password was not checked or hashed
// at all: the Hasher was full or the client went away while queued.
func hashBusy(err error) bool {
	return errors.Is(err, auth.ErrHashBusy) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// errHashBusy is the answer when argon2id is at its bound: come back soon.
func errHashBusy(err error) *HTTPError {
	return &HTTPError{Code: http.StatusServiceUnavailable, Msg: auth.ErrHashBusy.Error(), Err: err, RetryAfter: time.Second}
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
	c := callerOf(r)
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
	phc, err := a.Authn.hash(r, body.New)
	if err != nil {
		return err
	}
	var keep string // changed with HTTP Basic: no session is kept
	if c.Binding.Via == auth.ViaSession {
		keep = c.Binding.ID
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
