package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"vigil/internal/access"
)

// Households is the part of the store that changes who may see a camera.
// Missing devices, users, codes or shares return errors wrapping ErrUnknown.
// ClaimDevice and ResetDevice start a new ownership epoch of the device.
type Households interface {
	ClaimDevice(ctx context.Context, claimSHA256 string, owner access.UserID) (access.DeviceID, error)
	PutShare(ctx context.Context, device access.DeviceID, viewer access.UserID, until time.Time) error
	DeleteShare(ctx context.Context, device access.DeviceID, viewer access.UserID) error
	// ResetDevice drops the device's owner and shares under a new claim
	// code. With keepUntil not zero (a release that keeps its footage) the
	// ended epoch's secret is moved to an export of the owner until then
	// instead of destroyed (see record.Export).
	ResetDevice(ctx context.Context, device access.DeviceID, claimSHA256 string, keepUntil time.Time) error
	// Handover drops what a camera that changed hands left behind in the
	// process (its publisher sessions, caches, muxers and stills) so that
	// the next holder gets nothing of the old epoch (invariant 8). Claim
	// and Release call it after the store changed and the grants ended,
	// before they return.
	Handover(ctx context.Context, device access.DeviceID)
}

// ClaimHash is how a claim code is stored: the code is random, so a plain
// SHA-256 suffices; spaces, dashes and case are ignored as people type them.
func ClaimHash(code string) string {
	norm := strings.ToLower(strings.NewReplacer(" ", "", "-", "").Replace(code))
	sum := sha256.Sum256([]byte(norm))
	return hex.EncodeToString(sum[:])
}

// NewClaimCode returns a claim code to print on a provisioned device.
func NewClaimCode() (string, error) {
	p, err := NewPassword()
	if err != nil {
		return "", err
	}
	c := p[:16]
	return c[:4] + "-" + c[4:8] + "-" + c[8:12] + "-" + c[12:], nil
}

// Claim gives the unclaimed device with code to c. Until then the camera
// was the operator's: grants minted for it end now, and what it left in
// the process is dropped (the new owner's epoch begins).
func (s *Service) Claim(ctx context.Context, c Caller, code string, h Households) (access.DeviceID, error) {
	if !c.Allows(ScopeManage) {
		return "", fmt.Errorf("%w: claiming needs scope manage", ErrForbidden)
	}
	device, err := h.ClaimDevice(ctx, ClaimHash(code), c.ID)
	if err != nil {
		return "", fmt.Errorf("claim: %w", err)
	}
	s.RevokeDevice(device)
	h.Handover(ctx, device)
	auditLine(ctx, s.Audit, EventClaim, "user", c.ID, "camera", device)
	return device, nil
}

// Share lets viewer see the owner's device until until (zero: until revoked).
func (s *Service) Share(ctx context.Context, owner Caller, device access.DeviceID, viewer string, until time.Time, h Households) error {
	o, v, err := s.ownerAndViewer(ctx, owner, device, viewer)
	if err != nil {
		return err
	}
	if o.ID == v.ID {
		return fmt.Errorf("%w: an owner cannot share with themselves", ErrForbidden)
	}
	if !until.IsZero() && !until.After(s.now()) {
		return fmt.Errorf("%w: share until %s: that is in the past", ErrInvalid, until.Format(time.RFC3339))
	}
	if err := h.PutShare(ctx, device, v.ID, until); err != nil {
		return err
	}
	auditLine(ctx, s.Audit, EventShare, "user", o.ID, "camera", device, "viewer", v.ID, "until", until)
	return nil
}

// Unshare revokes viewer's share of the owner's device; viewing stops now.
func (s *Service) Unshare(ctx context.Context, owner Caller, device access.DeviceID, viewer string, h Households) error {
	_, v, err := s.ownerAndViewer(ctx, owner, device, viewer)
	if err != nil {
		return err
	}
	err = h.DeleteShare(ctx, device, v.ID)
	s.Revoke(v.ID, device) // also when the share was already gone: nothing may linger
	if err == nil {
		auditLine(ctx, s.Audit, EventUnshare, "user", owner.ID, "camera", device, "viewer", v.ID)
	}
	return err
}

func (s *Service) ownerAndViewer(ctx context.Context, owner Caller, device access.DeviceID, viewer string) (Principal, Principal, error) {
	if err := s.owns(ctx, owner, device, "manages shares of"); err != nil {
		return owner.Principal, Principal{}, err
	}
	v, err := s.dir.Principal(ctx, viewer)
	return owner.Principal, v, err
}

// owns checks that c may manage device: c's credential allows it and c
// owns the device (a disabled device included: its owner still manages it).
func (s *Service) owns(ctx context.Context, c Caller, device access.DeviceID, what string) error {
	if !c.Allows(ScopeManage) {
		return fmt.Errorf("%w: managing cameras needs scope manage", ErrForbidden)
	}
	r, err := s.Rights(ctx, c, device)
	if err != nil {
		return err
	}
	if !r.Manage {
		return fmt.Errorf("%w: only the owner %s %s", ErrForbidden, what, device)
	}
	return nil
}

func (s *Service) active(ctx context.Context, name string) (Principal, error) {
	p, err := s.dir.Principal(ctx, name)
	if err == nil && p.Disabled {
		err = fmt.Errorf("%w: user %s", ErrDisabled, name)
	}
	return p, err
}

// Release is the owner giving a camera up (selling it, moving out): its
// owner and every share are dropped in one step, every grant for it ends
// now, everything it left in the process is dropped (a new epoch begins),
// and a new claim code for the next owner is returned. With keep (not 0)
// the owner keeps the footage of their epoch for that long, for
// themselves alone (an export, read with ExportGrant); otherwise its
// secret is destroyed at once. keep is at most MaxKeep.
func (s *Service) Release(ctx context.Context, owner Caller, device access.DeviceID, keep time.Duration, h Households) (string, error) {
	if err := s.owns(ctx, owner, device, "releases"); err != nil {
		return "", err
	}
	if keep < 0 || keep > MaxKeep {
		return "", fmt.Errorf("%w: recordings are kept for at most %d days", ErrInvalid, MaxKeep/(24*time.Hour))
	}
	code, err := NewClaimCode()
	if err != nil {
		return "", err
	}
	var until time.Time
	if keep > 0 {
		until = s.now().Add(keep)
	}
	err = h.ResetDevice(ctx, device, ClaimHash(code), until)
	s.RevokeDevice(device)
	if err != nil {
		return "", err
	}
	h.Handover(ctx, device)
	if until.IsZero() {
		auditLine(ctx, s.Audit, EventRelease, "user", owner.ID, "camera", device)
	} else {
		auditLine(ctx, s.Audit, EventRelease, "user", owner.ID, "camera", device, "kept_until", until)
	}
	return code, nil
}

// MaxKeep bounds how long a release keeps the owner's footage.
const MaxKeep = 30 * 24 * time.Hour
