package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"vigil/internal/access"
)

// Errors of signing in.
var (
	// ErrWrongPassword is a user name and password that match nothing.
	ErrWrongPassword = errors.New("wrong user or password")
	// ErrSessionEnded is a session cookie of no live session.
	ErrSessionEnded = errors.New("session ended; sign in again")
	// ErrNotPassword is an API token where only the password will do.
	ErrNotPassword = errors.New("sign in with the password, not an API token")
)

// ThrottledError is a sign-in refused unchecked: too many failed attempts
// from the client's address (or at its account from there).
type ThrottledError struct {
	Wait time.Duration
	// Msg says which attempts failed too often.
	Msg string
}

func (e *ThrottledError) Error() string { return e.Msg }

// SessionTTL is how long a sign-in session lasts.
const SessionTTL = 7 * 24 * time.Hour

// Session is a signed-in browser. Only the SHA-256 of its cookie is stored.
type Session struct {
	IDSHA256 string
	User     access.UserID
	CSRF     string
	Created  time.Time
	Expires  time.Time
}

// Users looks users up by name.
type Users interface {
	Principal(ctx context.Context, name string) (Principal, error)
}

// SessionStore keeps sign-in sessions and the passwords people choose.
type SessionStore interface {
	CreateSession(ctx context.Context, s Session) error
	Session(ctx context.Context, idSHA256 string, now time.Time) (Session, error)
	DeleteSession(ctx context.Context, idSHA256 string) error
	// PrincipalOf is the user id (a session names its user by id).
	PrincipalOf(ctx context.Context, id access.UserID) (Principal, error)
	PasswordHash(ctx context.Context, user access.UserID) (string, error)
}

// SignIn checks people's passwords and keeps their sign-in sessions.
// Password guesses are throttled per (account, client address) and per
// client address, so a guesser elsewhere never locks the owner out, and
// argon2id work is bounded by the Hasher.
type SignIn struct {
	Users Users
	// Sessions keeps sessions and chosen passwords; nil: neither (HTTP
	// Basic with generated passwords and API tokens only).
	Sessions SessionStore
	// Tokens resolves stream tokens (Service); nil refuses them.
	Tokens TokenCallers
	// Accounts and Addresses throttle failed passwords per (user name,
	// client address) and per client address.
	Accounts, Addresses *Throttle
	// Hasher bounds the argon2id work of every sign-in, sign-up and
	// password change.
	Hasher *Hasher
	// Failures counts failed sign-ins; nil counts nothing.
	Failures *Failures
	// Audit writes the audit lines of sessions started and ended; nil
	// writes none.
	Audit *slog.Logger

	// flight joins concurrent attempts with the same user name, password
	// and client address (see Password).
	flight checkFlight
}

// checkTimeout bounds one shared password check, which runs apart from
// the context of the request that started it.
const checkTimeout = 30 * time.Second

// SessionCaller is the caller of a session cookie, with its session (whose
// CSRF token the caller checks: a header for the API, a form field for the
// account-linking pages).
func (si *SignIn) SessionCaller(ctx context.Context, cookie string) (Caller, Session, error) {
	c, sess, err := si.sessionCaller(ctx, cookie)
	return c, sess, si.Failures.count(err)
}

func (si *SignIn) sessionCaller(ctx context.Context, cookie string) (Caller, Session, error) {
	if si.Sessions == nil {
		return Caller{}, Session{}, ErrSessionEnded
	}
	sess, err := si.Sessions.Session(ctx, sha256Hex(cookie), time.Now())
	if err != nil {
		return Caller{}, sess, fmt.Errorf("%w: %w", ErrSessionEnded, err)
	}
	p, err := si.Sessions.PrincipalOf(ctx, sess.User)
	if err == nil && p.Disabled {
		err = fmt.Errorf("%w: user %s", ErrDisabled, p.Name)
	}
	if err != nil {
		return Caller{}, sess, fmt.Errorf("%w: account disabled: %w", ErrSessionEnded, err)
	}
	return callerOf(p, ScopeAccount, Binding{ViaSession, sess.IDSHA256}), sess, nil
}

// Password checks a password of the user name from the client address
// addr: argon2id when the user chose one, else the generated credential or
// an API token (whose scope the Caller gets). A guess shaped like a
// generated secret counts per address only (Generated). The attempt is
// counted before any hashing and taken back if it succeeds or nothing was
// checked (ErrHashBusy, the client gone). It returns *ThrottledError,
// ErrHashBusy (or the context's error) or ErrWrongPassword.
//
// Concurrent attempts with the same user name, password and address (a
// player or a dashboard opening several requests at once with Basic
// credentials) share one check and count as one attempt: they are one
// guess, and counting each before it is checked would lock out a person
// whose password is right. The key holds only a digest of the password,
// and the result is the Caller of that very name, so joining a flight
// cannot hand anyone another person's sign-in.
func (si *SignIn) Password(ctx context.Context, name, pass, addr string) (Caller, error) {
	key := name + "\x00" + AddressKey(addr) + "\x00" + sha256Hex(pass)
	return si.flight.do(ctx, key, func() (Caller, error) {
		// Apart from ctx: one caller leaving must not fail the others.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), checkTimeout)
		defer cancel()
		c, err := si.password(cctx, name, pass, addr)
		return c, si.Failures.count(err) // once per check, however many joined it
	})
}

func (si *SignIn) password(ctx context.Context, name, pass, addr string) (Caller, error) {
	k := si.guessKeys(name, pass, addr)
	if wait := si.try(k); wait > 0 {
		return Caller{}, &ThrottledError{Wait: wait, Msg: "too many failed sign-ins from this address"}
	}
	c, err := si.match(ctx, name, pass)
	if HashBusy(err) {
		si.refund(k) // nothing was checked
		return Caller{}, err
	}
	if err != nil {
		return Caller{}, fmt.Errorf("%w: %w", ErrWrongPassword, err)
	}
	si.succeed(k)
	return c, nil
}

// AccountPassword is Password refusing API tokens: signing in to a session
// and changing the password need the password itself.
func (si *SignIn) AccountPassword(ctx context.Context, name, pass, addr string) (Caller, error) {
	c, err := si.Password(ctx, name, pass, addr)
	if err == nil && c.Scope != ScopeAccount {
		return Caller{}, si.Failures.count(ErrNotPassword)
	}
	return c, err
}

// HashBusy reports whether err says a password was not checked or hashed
// at all: the Hasher was full or the client went away while queued.
func HashBusy(err error) bool {
	return errors.Is(err, ErrHashBusy) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// guess names the throttle keys of one password attempt; account is ""
// when the guess cannot lock the account.
type guess struct{ account, addr string }

func (si *SignIn) guessKeys(name, pass, addr string) guess {
	k := guess{addr: AddressKey(addr)}
	if !Generated(pass) {
		k.account = name + "\x00" + k.addr
	}
	return k
}

// try counts the attempt (see Throttle.Try) or returns the wait.
func (si *SignIn) try(k guess) time.Duration {
	if k.account != "" {
		if wait := si.Accounts.Try(k.account); wait > 0 {
			return wait
		}
	}
	wait := si.Addresses.Try(k.addr)
	if wait > 0 && k.account != "" {
		si.Accounts.Refund(k.account)
	}
	return wait
}

func (si *SignIn) refund(k guess) {
	if k.account != "" {
		si.Accounts.Refund(k.account)
	}
	si.Addresses.Refund(k.addr)
}

func (si *SignIn) succeed(k guess) {
	if k.account != "" {
		si.Accounts.Succeed(k.account)
	}
	si.Addresses.Refund(k.addr)
}

// match finds what pass is of the user name: the generated password, an
// API token or (argon2id, within the Hasher's bound) the chosen password.
func (si *SignIn) match(ctx context.Context, name, pass string) (Caller, error) {
	p, err := si.Users.Principal(ctx, name)
	if err != nil {
		return Caller{}, err
	}
	if p.Disabled {
		return Caller{}, errors.New("account disabled")
	}
	scope, key, ok := p.Match(pass)
	switch {
	case ok && key == "":
		return callerOf(p, scope, Binding{ViaPassword, PasswordFingerprint(p.Credential.PassSHA256)}), nil
	case ok:
		return callerOf(p, scope, Binding{ViaAPIToken, key}), nil
	case si.Sessions != nil:
		phc, err := si.Sessions.PasswordHash(ctx, p.ID)
		if err != nil {
			return Caller{}, err
		}
		if ok, err = si.Hasher.Check(ctx, phc, pass); err != nil {
			return Caller{}, err
		}
		if ok {
			return callerOf(p, ScopeAccount, Binding{ViaPassword, PasswordFingerprint(phc)}), nil
		}
	}
	return Caller{}, errors.New("wrong password")
}

// StartSession stores a new session for user and returns its cookie and
// the session (its CSRF token, its end).
func (si *SignIn) StartSession(ctx context.Context, user access.UserID) (string, Session, error) {
	if si.Sessions == nil {
		return "", Session{}, errors.New("sign-in needs a session store")
	}
	id, err1 := randomHex(32)
	csrf, err2 := randomHex(16)
	if err := errors.Join(err1, err2); err != nil {
		return "", Session{}, err
	}
	now := time.Now()
	sess := Session{IDSHA256: sha256Hex(id), User: user, CSRF: csrf, Created: now, Expires: now.Add(SessionTTL)}
	if err := si.Sessions.CreateSession(ctx, sess); err != nil {
		return "", Session{}, err
	}
	auditLine(ctx, si.Audit, EventSignIn, "user", user, "session", sess.IDSHA256[:12])
	return id, sess, nil
}

// EndSession ends the session of cookie, if any.
func (si *SignIn) EndSession(ctx context.Context, cookie string) error {
	if si.Sessions == nil {
		return nil
	}
	h := sha256Hex(cookie)
	sess, lookupErr := si.Sessions.Session(ctx, h, time.Now()) // whose, for the audit line
	if err := si.Sessions.DeleteSession(ctx, h); err != nil {
		return err
	}
	if lookupErr == nil {
		auditLine(ctx, si.Audit, EventSignOut, "user", sess.User, "session", h[:12])
	}
	return nil
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
