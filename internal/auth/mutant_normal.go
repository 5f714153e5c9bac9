//go:build !canarymutant

package auth

import (
	"vigil/internal/access"
)

// tokenDevice is where the canary plants a token bug (see package mutant);
// in normal builds the camera is the URL's, which the token must name.
func tokenDevice(_ Token, url access.DeviceID) access.DeviceID { return url }

// credentialCheck is where the canary plants the empty-credential bug (see
// package mutant); in normal builds the check's verdict stands.
func credentialCheck(ok bool) bool { return ok }

// exportAnyHousehold is where the canary plants the export-id-only bug
// (see package mutant); in normal builds only the household reads.
func exportAnyHousehold() bool { return false }
