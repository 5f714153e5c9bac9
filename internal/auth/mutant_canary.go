//go:build canarymutant

package auth

import (
	"vigil/internal/access"
	"vigil/internal/mutant"
)

// tokenDevice trusts the token's own camera instead of the URL's when
// mutant.TokenUnbound is planted: the check against the URL then always
// passes, and the grant is for the token's camera.
func tokenDevice(tok Token, url access.DeviceID) access.DeviceID {
	if mutant.On(mutant.TokenUnbound) {
		return tok.Device
	}
	return url
}

// credentialCheck lets any credential through when mutant.EmptyCredential
// is planted: a user whose generated password a password change cleared
// can then be watched over RTSP with a Digest answer made from the empty
// HA1, as before the check existed.
func credentialCheck(ok bool) bool {
	return ok || mutant.On(mutant.EmptyCredential)
}

// exportAnyHousehold is true when mutant.ExportIDOnly is planted: an
// export is read by whoever names its id, not by its household alone.
func exportAnyHousehold() bool { return mutant.On(mutant.ExportIDOnly) }
