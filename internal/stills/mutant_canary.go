//go:build canarymutant

package stills

import "vigil/internal/mutant"

// prevKey drops the device from the previous-still shortcut's key when
// mutant.StillKeyNoDevice is planted.
func prevKey(k decodedKey) decodedKey {
	if mutant.On(mutant.StillKeyNoDevice) {
		k.device = ""
	}
	return k
}

// flightKey drops the device and session from the decode coalescing key
// when mutant.FlightKeyNoDevice is planted.
func flightKey(k stillKey) stillKey {
	if mutant.On(mutant.FlightKeyNoDevice) {
		k.device, k.session = "", 0
	}
	return k
}

// handoverKeepsStills is true when mutant.ReleaseKeepsStill is planted: a
// camera that changes hands keeps its uploaded still file, the service's
// record of it and every cached still.
func handoverKeepsStills() bool { return mutant.On(mutant.ReleaseKeepsStill) }
