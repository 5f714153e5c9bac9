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
	// ErrInvalid is a request that cannot be carried out as asked; its text
	// describes only what the caller sent.
	ErrInvalid = errors.New("invalid request")
)

// Principal is a user as auth needs to see it.
type Principal struct {
	ID         access.UserID
	Admin      bool
	Disabled   bool
	Credential Credential
	// Tokens are the user's live API tokens, usable as passwords by tools
	// and RTSP players.
	Tokens []APIKey
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
	// Bound returns nil while what a stream token was minted in (its
	// Session: a sign-in session, the password or an account link of p;
	// see the Bound* prefixes) still stands. API keys are checked by auth
	// itself against p.Tokens.
	Bound(ctx context.Context, p Principal, session string) error
}

// Service authenticates cameras and viewers and mints grants.
type Service struct {
	dir    Directory
	issuer *access.Issuer
	tokens *Tokens // nil: stream tokens are refused
	ttl    time.Duration
	now    func() time.Time

	renewals renewals

	mu     sync.Mutex
	leases map[leaseKey]lease // guarded by mu; the live lease per user and device
}

// lease is a live lease and when it was made.
type lease struct {
	*access.Lease
	made time.Time
}

type leaseKey struct {
	user   access.UserID
	device access.DeviceID
	// bound is what a stream token was minted in ("" for a viewer who
	// signed in), so that ending it (an account link) ends its views only.
	bound string
}

// NewService returns a service minting grants that last at most ttl, for
// viewers who sign in or present stream tokens signed by tokens (nil: none).
func NewService(dir Directory, issuer *access.Issuer, tokens *Tokens, ttl time.Duration) *Service {
	return &Service{dir: dir, issuer: issuer, tokens: tokens, ttl: ttl, now: time.Now, leases: map[leaseKey]lease{}}
}

// CameraCredential returns the credential device publishes with.
func (s *Service) CameraCredential(ctx context.Context, device access.DeviceID) (Credential, error) {
	return s.dir.DeviceCredential(ctx, device)
}

// ViewerCredentials returns the credentials of an active user named name:
// the generated password (unless a chosen password replaced it) and the
// API tokens.
func (s *Service) ViewerCredentials(ctx context.Context, name string) ([]Credential, error) {
	p, err := s.active(ctx, name)
	if err != nil {
		return nil, err
	}
	var creds []Credential
	if p.Credential.Usable() {
		creds = append(creds, p.Credential)
	}
	for _, t := range p.Tokens {
		creds = append(creds, t.Credential)
	}
	return creds, nil
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
	return s.grant(ctx, p, device, aud, "")
}

// grant mints for the active principal p, the lease bound to what a stream
// token was minted in ("" for a viewer who signed in).
func (s *Service) grant(ctx context.Context, p Principal, device access.DeviceID, aud access.Audience, bound string) (access.Grant, error) {
	// The lease is taken before the store is read: a revocation that comes
	// after the read revokes this lease too, so a grant minted from what
	// was just revoked cannot outlive the revocation.
	l := s.lease(leaseKey{p.ID, device, bound})
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
		return access.Grant{}, fmt.Errorf("%w: %s, %s", ErrForbidden, p.ID, device)
	}
	return s.issuer.MintLeased(p.ID, device, aud, ttl, l), nil
}

// lease returns the live lease of user and device, making one if needed.
func (s *Service) lease(k leaseKey) *access.Lease {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.leases[k]
	if l.Lease == nil || l.Revoked() {
		l = lease{access.NewLease(), s.now()}
		s.leases[k] = l
	}
	return l.Lease
}

// Revoke ends the grants of user for device now. The caller changes the
// store first, so no new grant can be minted from what was revoked.
func (s *Service) Revoke(user access.UserID, device access.DeviceID) {
	s.RevokeMadeBefore(user, device, time.Time{})
}

// RevokeDevice ends every grant for device (removed, reset, disabled or
// just claimed by a household).
func (s *Service) RevokeDevice(device access.DeviceID) { s.RevokeMadeBefore("", device, time.Time{}) }

// RevokeUser ends every grant of user (account disabled, password changed).
func (s *Service) RevokeUser(user access.UserID) { s.RevokeMadeBefore(user, "", time.Time{}) }

// RevokeMadeBefore ends the grants of user (all users if empty) for device
// (all devices if empty) whose leases were made before t (zero: all). It is
// for changes learnt of after the fact (another process's, from the
// store's log): a grant minted after the change was minted from the
// changed store and stays.
func (s *Service) RevokeMadeBefore(user access.UserID, device access.DeviceID, t time.Time) {
	s.revokeWhere(func(k leaseKey, l lease) bool {
		return (user == "" || k.user == user) && (device == "" || k.device == device) && (t.IsZero() || l.made.Before(t))
	})
}

// RevokeBound ends the grants minted from stream tokens bound to bound
// (an account link that ended): that link's views end, the user's others
// go on.
func (s *Service) RevokeBound(bound string) {
	s.revokeWhere(func(k leaseKey, _ lease) bool { return k.bound == bound })
}

func (s *Service) revokeWhere(match func(leaseKey, lease) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, l := range s.leases {
		if match(k, l) {
			l.Revoke()
			delete(s.leases, k)
		}
	}
}
