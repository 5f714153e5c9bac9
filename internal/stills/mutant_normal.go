//go:build !canarymutant

package stills

// prevKey and flightKey are where the canary plants bugs (see package
// mutant); in normal builds they return their key unchanged.
func prevKey(k decodedKey) decodedKey { return k }

func flightKey(k stillKey) stillKey { return k }
