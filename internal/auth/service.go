// Package auth owns who is who: credentials of cameras and people, and the
// minting of Grants. A Grant is minted only after the store says the user
// may see the device; auth is the only package that holds the Issuer, and it
// revokes the grants it minted when what they came from ends.
package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	ID access.UserID
	// Name is the user's unique name, which signs in and which API
	// tokens' digests are made with.
	Name       string
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
	// Since is the holder's epoch, the instant from which they may see the
	// device (invariant 8): for the owner, and an admin on an unclaimed
	// device, when the current ownership began (the claim, or the release
	// or reset); for a sharee the later of that and the share's creation.
	// Grants carry it; media captured before it is refused at egress.
	Since time.Time
}

// Facts is what the store holds of a device and of one user's share of
// it, from which StandingOf decides that user's standing.
type Facts struct {
	// Owner is "" while the device is unclaimed.
	Owner    access.UserID
	Disabled bool
	// EpochStarted is when the device's current ownership began (its claim,
	// or the release or reset before it).
	EpochStarted time.Time
	// Shared is set when the user holds a share of the device, which ends
	// at ShareUntil (zero: none) and was made at ShareCreated.
	Shared                   bool
	ShareUntil, ShareCreated time.Time
}

// StandingOf is user's standing with the device of f. A sharee sees from
// the later of the epoch's start and the share's creation (invariant 8).
func (f Facts) StandingOf(user access.UserID) Standing {
	st := Standing{DeviceDisabled: f.Disabled, Claimed: f.Owner != "", Owner: f.Owner != "" && f.Owner == user,
		Since: f.EpochStarted}
	if f.Shared {
		st.Shared, st.ShareUntil = true, f.ShareUntil
		if !st.Owner && f.ShareCreated.After(st.Since) {
			st.Since = f.ShareCreated // a sharee sees from the share's creation on
		}
	}
	return st
}

// Directory is the part of the store auth reads. Lookups of missing
// entries return an error wrapping ErrUnknown.
type Directory interface {
	DeviceCredential(ctx context.Context, id access.DeviceID) (Credential, error)
	Principal(ctx context.Context, name string) (Principal, error)
	Standing(ctx context.Context, user access.UserID, device access.DeviceID) (Standing, error)
	Bindings
}

// Service authenticates cameras and viewers and mints grants.
type Service struct {
	// Failures counts refused RTSP Digest credentials and stream tokens;
	// nil counts nothing. Set it before use.
	Failures *Failures
	// Audit writes the audit lines of claims, releases and shares; nil
	// writes none. Set it before use.
	Audit *slog.Logger

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
	// bound is the account link a grant was minted for (zero otherwise),
	// so that ending the link ends its views only.
	bound Binding
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

// Use is what a caller asks to read.
type Use struct {
	Device access.DeviceID
	// Stream is the stream the output will serve, which a stream token
	// must open (Token.Opens); "" only where the output serves no one
	// stream (a multivariant playlist, which then lists the streams the
	// token opens).
	Stream access.StreamID
	// Audiences are the kinds of client the output serves: a stream token
	// must have been minted for one of them; a caller who signed in reads
	// as the first.
	Audiences []access.Audience
}

// Grant mints a grant for c to read use.Device, after checking the store:
// the device is enabled, and the user owns it or holds a live share
// (admins: unclaimed devices only — a claimed camera belongs to its
// household). A caller with a stream token gets it only for the token's
// camera, stream and kind of client, and only while what the token was
// minted in stands. The grant ends at the share's end, and at once when
// the share, ownership, account or (for a link) the link is revoked.
// c was loaded at the request's edge; Grant does not load it again.
func (s *Service) Grant(ctx context.Context, c Caller, use Use) (access.Grant, error) {
	if len(use.Audiences) == 0 {
		return access.Grant{}, fmt.Errorf("%w: no audience", ErrInvalid)
	}
	if c.Token == nil {
		return s.grant(ctx, c, use.Device, use.Audiences[0], leaseBinding(c.Binding))
	}
	return s.tokenGrant(ctx, c, use)
}

// grant mints for the caller c, the lease bound to an account link (zero
// for anything else).
func (s *Service) grant(ctx context.Context, c Caller, device access.DeviceID, aud access.Audience, bound Binding) (access.Grant, error) {
	// The lease is taken before the store is read: a revocation that comes
	// after the read revokes this lease too, so a grant minted from what
	// was just revoked cannot outlive the revocation.
	l := s.lease(leaseKey{c.ID, device, bound})
	st, err := s.dir.Standing(ctx, c.ID, device)
	if err != nil {
		return access.Grant{}, err
	}
	now := s.now()
	r := RightsOf(c, st, now)
	switch {
	case r.View:
	case r.Listed:
		return access.Grant{}, fmt.Errorf("%w: device %s", ErrDisabled, device)
	default:
		return access.Grant{}, fmt.Errorf("%w: %s, %s", ErrForbidden, c.ID, device)
	}
	ttl := s.ttl
	if r.Role == RoleViewer && !st.ShareUntil.IsZero() {
		ttl = min(ttl, st.ShareUntil.Sub(now))
	}
	return s.issuer.MintLeased(c.ID, device, aud, ttl, l, st.Since), nil
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

// RevokeBound ends the grants minted for an account link that ended (its
// callers' and its stream tokens'): that link's views end, the user's
// others go on.
func (s *Service) RevokeBound(bound Binding) {
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
