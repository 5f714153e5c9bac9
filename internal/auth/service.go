// Package auth owns who is who: credentials of cameras and people, and the
// minting of Grants. A Grant is minted only after the store says the user
// may see the device; auth is the only package that holds the Issuer, and it
// revokes the grants it minted when what they came from ends.
package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"vigil/internal/access"
)

// Errors returned by the service.
var (
	ErrUnknown   = errors.New("unknown user or device")
	ErrForbidden = errors.New("user may not see this camera")
	ErrDisabled  = errors.New("account or device disabled")
)

// Principal is a user as auth needs to see it.
type Principal struct {
	ID         access.UserID
	Admin      bool
	Disabled   bool
	Credential Credential
	// Tokens are the user's live API tokens, usable as passwords by tools
	// and RTSP players.
	Tokens []Credential
}

// CheckSecret reports whether secret is the user's generated password or
// one of the user's API tokens.
func (p Principal) CheckSecret(secret string) bool {
	ok := p.Credential.CheckPassword(secret)
	for _, t := range p.Tokens {
		ok = t.CheckPassword(secret) || ok
	}
	return ok
}

// Standing is what the store says about a user and a device.
type Standing struct {
	DeviceDisabled bool
	// Claimed is false while the device has no owner: until then it is the
	// operator's, and only admins may view it.
	Claimed bool
	Owner   bool
	// Shared is true for a share; ShareUntil is its end (zero: none).
	Shared     bool
	ShareUntil time.Time
}

// Directory is the part of the store auth reads. Lookups of missing
// entries return an error wrapping ErrUnknown.
type Directory interface {
	DeviceCredential(ctx context.Context, id access.DeviceID) (Credential, error)
	Principal(ctx context.Context, name string) (Principal, error)
	Standing(ctx context.Context, user access.UserID, device access.DeviceID) (Standing, error)
}

// Service authenticates cameras and viewers and mints grants.
type Service struct {
	dir    Directory
	issuer *access.Issuer
	ttl    time.Duration
	now    func() time.Time

	mu     sync.Mutex
	leases map[leaseKey]*access.Lease // guarded by mu; the live lease per user and device
}

type leaseKey struct {
	user   access.UserID
	device access.DeviceID
}

// NewService returns a service minting grants that last at most ttl.
func NewService(dir Directory, issuer *access.Issuer, ttl time.Duration) *Service {
	return &Service{dir: dir, issuer: issuer, ttl: ttl, now: time.Now, leases: map[leaseKey]*access.Lease{}}
}

// CameraCredential returns the credential device publishes with.
func (s *Service) CameraCredential(ctx context.Context, device access.DeviceID) (Credential, error) {
	return s.dir.DeviceCredential(ctx, device)
}

// ViewerCredentials returns the credentials of an active user named name:
// the generated password and the API tokens.
func (s *Service) ViewerCredentials(ctx context.Context, name string) ([]Credential, error) {
	p, err := s.active(ctx, name)
	if err != nil {
		return nil, err
	}
	return append([]Credential{p.Credential}, p.Tokens...), nil
}

// Grant mints a grant for the (already authenticated) user name to read
// device, after checking the store: the user is active, the device enabled,
// and the user owns it or holds a live share (admins: unclaimed devices
// only — a claimed camera belongs to its household). The grant ends at the
// share's end, and at once when the share, ownership or account is revoked.
func (s *Service) Grant(ctx context.Context, name string, device access.DeviceID, aud access.Audience) (access.Grant, error) {
	p, err := s.active(ctx, name)
	if err != nil {
		return access.Grant{}, err
	}
	st, err := s.dir.Standing(ctx, p.ID, device)
	if err != nil {
		return access.Grant{}, err
	}
	now := s.now()
	ttl := s.ttl
	switch {
	case st.DeviceDisabled:
		return access.Grant{}, fmt.Errorf("%w: device %s", ErrDisabled, device)
	case st.Owner, !st.Claimed && p.Admin:
	case st.Shared && (st.ShareUntil.IsZero() || now.Before(st.ShareUntil)):
		if !st.ShareUntil.IsZero() {
			ttl = min(ttl, st.ShareUntil.Sub(now))
		}
	default:
		return access.Grant{}, fmt.Errorf("%w: %s, %s", ErrForbidden, name, device)
	}
	return s.issuer.MintLeased(p.ID, device, aud, ttl, s.lease(p.ID, device)), nil
}

// lease returns the live lease of user and device, making one if needed.
func (s *Service) lease(user access.UserID, device access.DeviceID) *access.Lease {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := leaseKey{user, device}
	l := s.leases[k]
	if l == nil || l.Revoked() {
		l = access.NewLease()
		s.leases[k] = l
	}
	return l
}

// Revoke ends the grants of user for device now. The caller changes the
// store first, so no new grant can be minted from what was revoked.
func (s *Service) Revoke(user access.UserID, device access.DeviceID) {
	s.revokeWhere(func(k leaseKey) bool { return k.user == user && k.device == device })
}

// RevokeDevice ends every grant for device (removed, reset, disabled or
// just claimed by a household).
func (s *Service) RevokeDevice(device access.DeviceID) {
	s.revokeWhere(func(k leaseKey) bool { return k.device == device })
}

// RevokeUser ends every grant of user (account disabled, password changed).
func (s *Service) RevokeUser(user access.UserID) {
	s.revokeWhere(func(k leaseKey) bool { return k.user == user })
}

func (s *Service) revokeWhere(match func(leaseKey) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, l := range s.leases {
		if match(k) {
			l.Revoke()
			delete(s.leases, k)
		}
	}
}
