//go:build !canarymutant

package ingest

// newUnitBuffer returns the buffer of one unit's payload, n bytes. It is
// where the canary plants a buffer pool (see package mutant); in normal
// builds every unit gets its own fresh allocation, never reused.
func newUnitBuffer(n int) []byte { return make([]byte, n) }
