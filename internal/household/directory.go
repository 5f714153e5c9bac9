package household

import (
	"context"
	"errors"
	"fmt"
	"time"

	"vigil/internal/access"
	"vigil/internal/auth"
	"vigil/internal/store"
)

// Directory is the store as auth reads and changes it: users, device
// credentials and standings, claims and shares, sessions, passwords and
// account links, with the store's errors mapped to auth's.
type Directory struct {
	Views
	Store DirectoryStore
}

// DirectoryStore is the part of the store that auth's Directory,
// Households, SessionStore and AccountStore are made of.
type DirectoryStore interface {
	Store
	UserByName(ctx context.Context, name string) (store.User, error)
	APITokens(ctx context.Context, user access.UserID, now time.Time) ([]store.APIToken, error)
	ClaimDevice(ctx context.Context, claimSHA256 string, owner access.UserID) (store.Device, error)
	PutShare(ctx context.Context, sh store.Share) error
	DeleteShare(ctx context.Context, device access.DeviceID, viewer access.UserID) error
	ResetDevice(ctx context.Context, id access.DeviceID, claimSHA256 string) error
	CreateSession(ctx context.Context, s store.Session) error
	Session(ctx context.Context, idSHA256 string, now time.Time) (store.Session, error)
	DeleteSession(ctx context.Context, idSHA256 string) error
	PasswordHash(ctx context.Context, user access.UserID) (string, error)
	LinkHolder(ctx context.Context, id string) (access.UserID, bool, error)
}

var (
	_ auth.Directory    = Directory{}
	_ auth.SessionStore = Directory{}
)

// NewDirectory returns the directory of st.
func NewDirectory(st DirectoryStore) Directory { return Directory{Views: Views{Store: st}, Store: st} }

// DeviceCredential is what device publishes with.
func (d Directory) DeviceCredential(ctx context.Context, id access.DeviceID) (auth.Credential, error) {
	dev, err := d.Store.Device(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return auth.Credential{}, fmt.Errorf("%w: device %s", auth.ErrUnknown, id)
	}
	return dev.Credential, err
}

// Principal is the user name with their live API tokens.
func (d Directory) Principal(ctx context.Context, name string) (auth.Principal, error) {
	u, err := d.Store.UserByName(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return auth.Principal{}, fmt.Errorf("%w: user %s", auth.ErrUnknown, name)
	}
	if err != nil {
		return auth.Principal{}, err
	}
	return d.principal(ctx, u)
}

// PrincipalOf is the user id with their live API tokens
// (auth.SessionStore: a session names its user by id).
func (d Directory) PrincipalOf(ctx context.Context, id access.UserID) (auth.Principal, error) {
	u, err := d.Store.User(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return auth.Principal{}, fmt.Errorf("%w: user %s", auth.ErrUnknown, id)
	}
	if err != nil {
		return auth.Principal{}, err
	}
	return d.principal(ctx, u)
}

func (d Directory) principal(ctx context.Context, u store.User) (auth.Principal, error) {
	toks, err := d.Store.APITokens(ctx, u.ID, time.Now())
	if err != nil {
		return auth.Principal{}, err
	}
	p := auth.Principal{ID: u.ID, Name: u.Name, Admin: u.Admin, Disabled: u.Disabled, Credential: u.Credential}
	for _, t := range toks {
		c := t.Credential
		c.User = u.Name // tokens' digests are made with the user's name
		p.Tokens = append(p.Tokens, auth.APIKey{ID: t.ID, Scope: t.Scope, Credential: c})
	}
	return p, nil
}

// ClaimDevice gives the unclaimed device with the code's hash to owner.
func (d Directory) ClaimDevice(ctx context.Context, claimSHA256 string, owner access.UserID) (access.DeviceID, error) {
	dev, err := d.Store.ClaimDevice(ctx, claimSHA256, owner)
	return dev.ID, unknown(err)
}

// PutShare shares device with viewer until until (zero: until revoked).
func (d Directory) PutShare(ctx context.Context, device access.DeviceID, viewer access.UserID, until time.Time) error {
	return unknown(d.Store.PutShare(ctx, store.Share{Device: device, Viewer: viewer, Until: until}))
}

// DeleteShare ends viewer's share of device.
func (d Directory) DeleteShare(ctx context.Context, device access.DeviceID, viewer access.UserID) error {
	return unknown(d.Store.DeleteShare(ctx, device, viewer))
}

// ResetDevice drops the device's owner and shares under a new claim code.
func (d Directory) ResetDevice(ctx context.Context, device access.DeviceID, claimSHA256 string) error {
	return unknown(d.Store.ResetDevice(ctx, device, claimSHA256))
}

// CreateSession stores a new sign-in session.
func (d Directory) CreateSession(ctx context.Context, s auth.Session) error {
	return d.Store.CreateSession(ctx, s)
}

// DeleteSession ends a sign-in session.
func (d Directory) DeleteSession(ctx context.Context, idSHA256 string) error {
	return d.Store.DeleteSession(ctx, idSHA256)
}

// Session is the live session of a cookie's SHA-256.
func (d Directory) Session(ctx context.Context, idSHA256 string, now time.Time) (auth.Session, error) {
	return d.Store.Session(ctx, idSHA256, now)
}

// PasswordHash is the user's chosen password hash ("" for none).
func (d Directory) PasswordHash(ctx context.Context, user access.UserID) (string, error) {
	return d.Store.PasswordHash(ctx, user)
}

// LinkHolder is the user of an account link and whether it is live.
func (d Directory) LinkHolder(ctx context.Context, id string) (access.UserID, bool, error) {
	return d.Store.LinkHolder(ctx, id)
}
