package testkit

import (
	"time"

	"vigil/internal/access"
)

// Grant lets user watch device on the web for an hour, as auth would: for
// tests of the outputs, which take grants and skip auth.
func Grant(user access.UserID, device access.DeviceID) access.Grant {
	return access.NewIssuer().Mint(user, device, access.AudienceWeb, time.Hour)
}
