// Package auth owns who is who: credentials of cameras and people, and the
// minting of Grants. A Grant is minted only after the store says the user
// may see the device; auth is the only package that holds the Issuer.
package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"vigil/internal/access"
)

// Errors returned by the service.
var (
	ErrUnknown   = errors.New("unknown user or device")
	ErrForbidden = errors.New("user may not see this camera")
)

// Principal is a user as auth needs to see it.
type Principal struct {
	ID         access.UserID
	Admin      bool
	Credential Credential
}

// Directory is the part of the store auth reads. Lookups of missing
// entries return an error wrapping ErrUnknown.
type Directory interface {
	DeviceCredential(ctx context.Context, id access.DeviceID) (Credential, error)
	Principal(ctx context.Context, name string) (Principal, error)
}

// Service authenticates cameras and viewers and mints grants.
type Service struct {
	dir    Directory
	issuer *access.Issuer
	ttl    time.Duration
}

// NewService returns a service minting grants that last ttl.
func NewService(dir Directory, issuer *access.Issuer, ttl time.Duration) *Service {
	return &Service{dir: dir, issuer: issuer, ttl: ttl}
}

// CameraCredential returns the credential device publishes with.
func (s *Service) CameraCredential(ctx context.Context, device access.DeviceID) (Credential, error) {
	return s.dir.DeviceCredential(ctx, device)
}

// ViewerCredential returns the credential of the user named name.
func (s *Service) ViewerCredential(ctx context.Context, name string) (Credential, error) {
	p, err := s.dir.Principal(ctx, name)
	return p.Credential, err
}

// Grant mints a grant for the (already authenticated) user name to read
// device. Until accounts and sharing exist only the admin may read, and only
// devices that exist.
func (s *Service) Grant(ctx context.Context, name string, device access.DeviceID, aud access.Audience) (access.Grant, error) {
	p, err := s.dir.Principal(ctx, name)
	if err != nil {
		return access.Grant{}, err
	}
	if !p.Admin {
		return access.Grant{}, fmt.Errorf("%w: %s, %s", ErrForbidden, name, device)
	}
	if _, err := s.dir.DeviceCredential(ctx, device); err != nil {
		return access.Grant{}, err
	}
	return s.issuer.Mint(p.ID, device, aud, s.ttl), nil
}
