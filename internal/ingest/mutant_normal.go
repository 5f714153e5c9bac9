//go:build !canarymutant

package ingest

// ownPayload is where the canary plants a buffer pool (see package mutant);
// in normal builds every unit gets its own fresh allocation.
func ownPayload(payload [][]byte) [][]byte { return own(payload) }
