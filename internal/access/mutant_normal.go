//go:build !canarymutant

package access

// epochChecked is where the canary plants an egress check blind to time
// (see package mutant); in normal builds the epoch is always checked.
func epochChecked() bool { return true }
