package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"vigil/internal/access"
)

// Errors of changing accounts.
var (
	// ErrRefused is a change the caller may not make; its text says why
	// in terms of what the caller sent.
	ErrRefused = errors.New("not allowed")
	// ErrNameTaken is a sign-up with a user name that exists.
	ErrNameTaken = errors.New("that name is taken")
	// ErrInvitation is an invitation unknown, spent or expired.
	ErrInvitation = errors.New("invitation unknown, used or expired")
)

// API tokens last 90 days unless asked otherwise, a year at most;
// invitations a week.
const (
	APITokenTTL    = 90 * 24 * time.Hour
	APITokenMaxTTL = 365 * 24 * time.Hour
	InvitationTTL  = 7 * 24 * time.Hour
)

// APIToken is a user's long-lived secret for tools and RTSP players. Only
// its hashes are stored; Credential.User is the user's name.
type APIToken struct {
	ID         string
	User       access.UserID
	Name       string
	Credential Credential
	// Scope is what the token may do (ScopeView or ScopeManage).
	Scope   Scope
	Created time.Time
	Expires time.Time
}

// AccountStore keeps what people change of their accounts.
type AccountStore interface {
	// SetPassword stores a chosen password; it clears the generated one,
	// deletes every API token and ends every session but keepSession (the
	// SHA-256 of a session cookie; "" for none).
	SetPassword(ctx context.Context, user access.UserID, phc, keepSession string) error
	CreateAPIToken(ctx context.Context, t APIToken) error
	APITokens(ctx context.Context, user access.UserID, now time.Time) ([]APIToken, error)
	// DeleteAPIToken returns an error wrapping ErrUnknown for no such token.
	DeleteAPIToken(ctx context.Context, user access.UserID, id string) error
	CreateInvitation(ctx context.Context, codeSHA256 string, by access.UserID, expires time.Time) error
	// Invitation returns ErrInvitation unless the invitation is unspent
	// and unexpired at now; it spends nothing.
	Invitation(ctx context.Context, codeSHA256 string, now time.Time) error
	// SignUp creates the user with a chosen password, spending the
	// invitation (if any): ErrNameTaken, ErrInvitation.
	SignUp(ctx context.Context, id access.UserID, name, phc, invitationSHA256 string, now time.Time) error
}

// Accounts is what people change of their own accounts: passwords, API
// tokens, invitations and sign-up.
type Accounts struct {
	SignIn *SignIn
	Store  AccountStore
	// Revoke ends a user's live grants (Service.RevokeUser).
	Revoke func(access.UserID)
	// OpenSignup lets anyone create an account; otherwise it takes an
	// invitation.
	OpenSignup bool
}

// ChangePassword sets c's password and cuts off whoever knew the old one:
// the generated password, every API token and every session but the one
// making the change end, and with them the stream tokens minted in them;
// every live grant of the user ends (viewers in the kept session
// reconnect). Account links (Google, Alexa) stay: they are listed and
// ended on their own. current must be the password itself.
func (a *Accounts) ChangePassword(ctx context.Context, c Caller, current, next, addr string) error {
	p, err := a.SignIn.AccountPassword(ctx, c.Name, current, addr)
	if err != nil {
		return err
	}
	phc, err := a.SignIn.Hasher.Hash(ctx, next)
	if err != nil {
		return err
	}
	var keep string // changed with HTTP Basic: no session is kept
	if c.Binding.Via == ViaSession {
		keep = c.Binding.ID
	}
	if err := a.Store.SetPassword(ctx, p.ID, phc, keep); err != nil {
		return err
	}
	a.revoke(p.ID)
	return nil
}

func (a *Accounts) revoke(user access.UserID) {
	if a.Revoke != nil {
		a.Revoke(user)
	}
}

// CreateAPIToken makes a token for c and returns it with its secret,
// which is shown once. It works as the password for HTTP Basic and RTSP
// Digest (user name + token). scope "" is ScopeView; ttl 0 is APITokenTTL.
func (a *Accounts) CreateAPIToken(ctx context.Context, c Caller, name, scope string, ttl time.Duration) (APIToken, string, error) {
	sc, err := ParseScope(scope)
	if err != nil || len(name) > 64 || ttl < 0 {
		return APIToken{}, "", fmt.Errorf("%w: name at most 64 characters; scope view (default) or manage; ttl_days positive", ErrInvalid)
	}
	if ttl == 0 {
		ttl = APITokenTTL
	}
	secret, err1 := NewPassword()
	id, err2 := randomHex(8)
	if err := errors.Join(err1, err2); err != nil {
		return APIToken{}, "", err
	}
	now := time.Now()
	t := APIToken{ID: id, User: c.ID, Name: name, Credential: HashCredential(c.Name, secret),
		Scope: sc, Created: now, Expires: now.Add(min(ttl, APITokenMaxTTL))}
	if err := a.Store.CreateAPIToken(ctx, t); err != nil {
		return APIToken{}, "", err
	}
	return t, secret, nil
}

// APITokens lists c's live API tokens.
func (a *Accounts) APITokens(ctx context.Context, c Caller) ([]APIToken, error) {
	return a.Store.APITokens(ctx, c.ID, time.Now())
}

// DeleteAPIToken revokes one of c's tokens; the user's live views end with
// it, since any of them may have been opened with it.
func (a *Accounts) DeleteAPIToken(ctx context.Context, c Caller, id string) error {
	if err := a.Store.DeleteAPIToken(ctx, c.ID, id); err != nil {
		return err
	}
	a.revoke(c.ID)
	return nil
}

// Invite makes a single-use sign-up code (admins only) and returns it with
// its end.
func (a *Accounts) Invite(ctx context.Context, c Caller) (string, time.Time, error) {
	if !c.Admin {
		return "", time.Time{}, fmt.Errorf("%w: only admins invite", ErrRefused)
	}
	code, err := NewPassword()
	if err != nil {
		return "", time.Time{}, err
	}
	expires := time.Now().Add(InvitationTTL)
	return code, expires, a.Store.CreateInvitation(ctx, sha256Hex(code), c.ID, expires)
}

// SignUp creates an account with a chosen password: open when the operator
// enabled sign-up, otherwise with an invitation, which it spends. Strangers
// must not make Vigil spend: the attempt is counted against the client
// address addr, and the invitation checked, before the password is hashed;
// it stays counted unless the invitation was good or not needed.
func (a *Accounts) SignUp(ctx context.Context, name, password, invitation, addr string) error {
	if invitation == "" && !a.OpenSignup {
		return fmt.Errorf("%w: sign-up needs an invitation", ErrRefused)
	}
	if !validUserName(name) {
		return fmt.Errorf("%w: name: 1-64 letters, digits, '-', '_' or '.'", ErrInvalid)
	}
	key := AddressKey(addr)
	if wait := a.SignIn.Addresses.Try(key); wait > 0 {
		return &ThrottledError{Wait: wait, Msg: "too many failed attempts from this address"}
	}
	var inv string
	if invitation != "" {
		inv = sha256Hex(invitation)
		if err := a.Store.Invitation(ctx, inv, time.Now()); err != nil {
			return err
		}
	}
	phc, err := a.SignIn.Hasher.Hash(ctx, password)
	if err != nil {
		a.SignIn.Addresses.Refund(key) // not a guess: the invitation was good or not needed
		return err
	}
	id, err := randomHex(8)
	if err != nil {
		return err
	}
	// No generated RTSP password: players use API tokens.
	err = a.Store.SignUp(ctx, access.UserID("u-"+id), name, phc, inv, time.Now())
	if err == nil || errors.Is(err, ErrNameTaken) {
		a.SignIn.Addresses.Refund(key)
	}
	return err
}

func validUserName(s string) bool {
	return len(s) > 0 && len(s) <= 64 &&
		strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == ""
}
