package auth

import (
	"context"
	"time"

	"vigil/internal/access"
)

// Rights is what a caller may do with one camera.
type Rights struct {
	// Listed: the camera is in the caller's listings (GET /api/cameras,
	// the account-linking consent page, a smart display's SYNC).
	Listed bool
	// View: the caller may read its media (every output).
	View bool
	// Manage: the caller may release it; Share: share it and end shares;
	// History: read who watched it.
	Manage, Share, History bool
	// Role is how the caller holds it: RoleOwner, RoleViewer (a live
	// share) or RoleOperator (an admin, while the camera is unclaimed).
	Role string
}

// The roles of Rights.Role.
const (
	RoleOwner    = "owner"
	RoleViewer   = "viewer"
	RoleOperator = "operator"
)

// RightsOf is the one rule of who may do what with a camera: grants, every
// listing and every management route ask it. st is what the store says
// about c and the camera at now.
//
//   - The owner lists, manages, shares and reads the history of it.
//   - A live share lists and views it; an ended one gives nothing.
//   - An admin lists and views an unclaimed camera (the operator's); a
//     claimed one belongs to its household, admins included.
//   - A disabled camera stays listed (Rights.View false marks it) and
//     manageable by its owner, so that the owner can still release it or
//     end its shares, but nobody views it.
//
// Managing needs a credential of ScopeManage; listing and viewing any.
func RightsOf(c Caller, st Standing, now time.Time) Rights {
	var r Rights
	switch {
	case st.Owner:
		r.Role = RoleOwner
	case st.Shared && (st.ShareUntil.IsZero() || now.Before(st.ShareUntil)):
		r.Role = RoleViewer
	case !st.Claimed && c.Admin:
		r.Role = RoleOperator
	default:
		return Rights{}
	}
	r.Listed = true
	r.View = !st.DeviceDisabled
	if r.Role == RoleOwner && c.Allows(ScopeManage) {
		r.Manage, r.Share, r.History = true, true, true
	}
	return r
}

// Rights is what c may do with device now, from the store (RightsOf).
func (s *Service) Rights(ctx context.Context, c Caller, device access.DeviceID) (Rights, error) {
	st, err := s.dir.Standing(ctx, c.ID, device)
	if err != nil {
		return Rights{}, err
	}
	return RightsOf(c, st, s.now()), nil
}
