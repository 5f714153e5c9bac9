package auth

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"vigil/internal/access"
)

// Export is what the store holds of an export (record.Export) that decides
// who may read it: the footage a household kept when it released a camera.
type Export struct {
	ID     int64
	Device access.DeviceID
	// Household is the releasing owner, the only reader.
	Household access.UserID
	// Epoch and Released bound the footage: captured in [Epoch, Released).
	Epoch, Released time.Time
	Deadline        time.Time
}

// ExportGrant mints a grant for c to read the export e, which the caller
// read from the store: only the releasing household (its owner's account,
// signed in as a person: no stream token, no link) reads it, only before
// its deadline, and only what was captured in its epoch before the release
// (access.Issuer.MintSpan), whoever holds the camera now. The grant's
// lease is the export's own: a claim or release of the camera does not end
// it; the account's revocation, or the export's deletion, does.
func (s *Service) ExportGrant(ctx context.Context, c Caller, e Export) (access.Grant, error) {
	if !c.Allows(ScopeView) || c.Binding.Via == ViaLink {
		return access.Grant{}, fmt.Errorf("%w: exports are read by their household, signed in", ErrForbidden)
	}
	if c.Disabled {
		return access.Grant{}, fmt.Errorf("%w: user %s", ErrDisabled, c.ID)
	}
	if !exportAnyHousehold() && (e.Household == "" || c.ID != e.Household) {
		return access.Grant{}, fmt.Errorf("%w: %s, export %d", ErrForbidden, c.ID, e.ID)
	}
	now := s.now()
	if !now.Before(e.Deadline) || !e.Epoch.Before(e.Released) {
		return access.Grant{}, fmt.Errorf("%w: export %d is no longer kept", ErrForbidden, e.ID)
	}
	l := s.lease(exportLease(c.ID, e.ID))
	ttl := min(s.ttl, e.Deadline.Sub(now))
	return s.issuer.MintSpan(c.ID, e.Device, access.AudienceWeb, ttl, l, e.Epoch, e.Released), nil
}

// EndExport ends the grants minted for export id, which g's user deleted
// early (g is their grant for it), and writes the audit line.
func (s *Service) EndExport(ctx context.Context, g access.Grant, id int64) {
	k := exportLease(g.User(), id)
	s.revokeWhere(func(l leaseKey, _ lease) bool { return l == k })
	auditLine(ctx, s.Audit, EventExportDelete, "user", g.User(), "camera", g.Device(), "export", id)
}

// exportLease is the lease key of user's grants for export id: no device,
// so that the camera's claims and releases (RevokeDevice) leave it be.
func exportLease(user access.UserID, id int64) leaseKey {
	return leaseKey{user: user, bound: Binding{ID: "export/" + strconv.FormatInt(id, 10)}}
}
