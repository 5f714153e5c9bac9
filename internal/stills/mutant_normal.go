//go:build !canarymutant

package stills

// prevKey and flightKey are where the canary plants bugs (see package
// mutant); in normal builds they return their key unchanged.
func prevKey(k decodedKey) decodedKey { return k }

func flightKey(k stillKey) stillKey { return k }

// handoverKeepsStills is where the canary plants a handover that leaves
// the stills behind; in normal builds a handover forgets them.
func handoverKeepsStills() bool { return false }
