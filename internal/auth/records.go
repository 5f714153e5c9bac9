package auth

import (
	"context"
	"time"

	"vigil/internal/access"
)

// Records is the store as auth reads it: rows in auth's types, each a
// lookup the store makes in its own SQL. What auth decides from them (a
// user's standing, a principal with its tokens) is decided once, here in
// StoreDirectory, for every store. Lookups of missing entries return an
// error wrapping ErrUnknown.
type Records interface {
	DeviceCredential(ctx context.Context, id access.DeviceID) (Credential, error)
	// Facts is what the store holds of device and of user's share of it,
	// read together.
	Facts(ctx context.Context, user access.UserID, device access.DeviceID) (Facts, error)
	// PrincipalRecord and PrincipalRecordOf are the user named name, or
	// with id, without their tokens.
	PrincipalRecord(ctx context.Context, name string) (Principal, error)
	PrincipalRecordOf(ctx context.Context, id access.UserID) (Principal, error)
	// APITokens are the user's tokens that have not expired at now.
	APITokens(ctx context.Context, user access.UserID, now time.Time) ([]APIToken, error)
	Bindings
	CreateSession(ctx context.Context, s Session) error
	DeleteSession(ctx context.Context, idSHA256 string) error
}

// StoreDirectory answers what auth asks of a store (Directory, Users,
// SessionStore) from its Records.
type StoreDirectory struct{ Records }

var (
	_ Directory    = StoreDirectory{}
	_ SessionStore = StoreDirectory{}
)

// Principal is the user name with their live API tokens.
func (d StoreDirectory) Principal(ctx context.Context, name string) (Principal, error) {
	p, err := d.PrincipalRecord(ctx, name)
	if err != nil {
		return Principal{}, err
	}
	return d.withTokens(ctx, p)
}

// PrincipalOf is the user id with their live API tokens (a session names
// its user by id).
func (d StoreDirectory) PrincipalOf(ctx context.Context, id access.UserID) (Principal, error) {
	p, err := d.PrincipalRecordOf(ctx, id)
	if err != nil {
		return Principal{}, err
	}
	return d.withTokens(ctx, p)
}

func (d StoreDirectory) withTokens(ctx context.Context, p Principal) (Principal, error) {
	toks, err := d.APITokens(ctx, p.ID, time.Now())
	if err != nil {
		return Principal{}, err
	}
	for _, t := range toks {
		c := t.Credential
		c.User = p.Name // tokens' digests are made with the user's name
		p.Tokens = append(p.Tokens, APIKey{ID: t.ID, Scope: t.Scope, Credential: c})
	}
	return p, nil
}

// Standing is user's standing with device, by Facts.StandingOf.
func (d StoreDirectory) Standing(ctx context.Context, user access.UserID, device access.DeviceID) (Standing, error) {
	f, err := d.Facts(ctx, user, device)
	if err != nil {
		return Standing{}, err
	}
	return f.StandingOf(user), nil
}
