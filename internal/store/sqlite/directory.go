package sqlite

import (
	"context"
	"errors"
	"fmt"
	"time"

	"vigil/internal/access"
	"vigil/internal/auth"
	"vigil/internal/store"
)

// The store answers what auth reads to decide who is who and who may see a
// camera (auth.Directory, auth.SessionStore), in auth's types, so that a
// request's grant reads the store without a layer in between. A missing
// entry is an error wrapping auth.ErrUnknown.
var (
	_ auth.Directory    = (*Store)(nil)
	_ auth.SessionStore = (*Store)(nil)
)

// DeviceCredential is what device publishes with.
func (s *Store) DeviceCredential(ctx context.Context, id access.DeviceID) (auth.Credential, error) {
	dev, err := s.Device(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return auth.Credential{}, fmt.Errorf("%w: device %s", auth.ErrUnknown, id)
	}
	return dev.Credential, err
}

// Principal is the user name with their live API tokens.
func (s *Store) Principal(ctx context.Context, name string) (auth.Principal, error) {
	u, err := s.UserByName(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return auth.Principal{}, fmt.Errorf("%w: user %s", auth.ErrUnknown, name)
	}
	if err != nil {
		return auth.Principal{}, err
	}
	return s.principal(ctx, u)
}

// PrincipalOf is the user id with their live API tokens (a session names
// its user by id).
func (s *Store) PrincipalOf(ctx context.Context, id access.UserID) (auth.Principal, error) {
	u, err := s.User(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return auth.Principal{}, fmt.Errorf("%w: user %s", auth.ErrUnknown, id)
	}
	if err != nil {
		return auth.Principal{}, err
	}
	return s.principal(ctx, u)
}

func (s *Store) principal(ctx context.Context, u store.User) (auth.Principal, error) {
	toks, err := s.APITokens(ctx, u.ID, time.Now())
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

// Standing is what the store says about user and device (auth.Facts).
func (s *Store) Standing(ctx context.Context, user access.UserID, device access.DeviceID) (auth.Standing, error) {
	dev, err := s.Device(ctx, device)
	if errors.Is(err, store.ErrNotFound) {
		return auth.Standing{}, fmt.Errorf("%w: %w", auth.ErrUnknown, err)
	}
	if err != nil {
		return auth.Standing{}, err
	}
	f := auth.Facts{Owner: dev.Owner, Disabled: dev.Disabled, EpochStarted: dev.EpochStarted}
	sh, err := s.Share(ctx, device, user)
	switch {
	case err == nil:
		f.Shared, f.ShareUntil, f.ShareCreated = true, sh.Until, sh.CreatedAt
	case !errors.Is(err, store.ErrNotFound):
		return auth.Standing{}, err
	}
	return f.StandingOf(user), nil
}
