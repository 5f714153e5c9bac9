//go:build !canarymutant

package httpapi

import (
	"vigil/internal/access"
	"vigil/internal/auth"
)

// tokenDevice is where the canary plants a token bug (see package mutant);
// in normal builds the camera is the URL's, which the token must name.
func tokenDevice(_ auth.Token, url access.DeviceID) access.DeviceID { return url }
