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
