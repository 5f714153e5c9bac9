package auth

import (
	"context"
	"fmt"
	"time"

	"vigil/internal/access"
)

// RecorderUser is who the recorder reads streams as, in grants and logs.
const RecorderUser access.UserID = "vigil-recorder"

// RecorderGrantTTL is how long the recorder's grant for one camera session
// lasts; the recorder rejoins a session that outlives it with a new one.
const RecorderGrantTTL = 24 * time.Hour

// RecorderGrant mints the recorder's grant to read device, as Grant does
// a viewer's after reading the store: bound to the device's current
// ownership epoch (what it records belongs to the current owner) and
// leased, so that a claim, release, reset or disabling ends it with the
// viewers' (RevokeDevice) and the recorder rejoins under the new epoch. A
// disabled or unknown device gets none.
func (s *Service) RecorderGrant(ctx context.Context, device access.DeviceID) (access.Grant, error) {
	l := s.lease(leaseKey{user: RecorderUser, device: device}) // before the read: see grant
	st, err := s.dir.Standing(ctx, RecorderUser, device)
	if err != nil {
		return access.Grant{}, fmt.Errorf("recorder grant for %s: %w", device, err)
	}
	if st.DeviceDisabled {
		return access.Grant{}, fmt.Errorf("recorder grant: %w: device %s", ErrDisabled, device)
	}
	return s.issuer.MintLeased(RecorderUser, device, access.AudienceWeb, RecorderGrantTTL, l, st.Since), nil
}
