//go:build canarymutant

package access

import "vigil/internal/mutant"

// epochChecked is false when mutant.EpochUnchecked is planted: grants are
// then blind to time.
//
// TODO(epoch merge), access/access.go: Grant.Epoch returns the zero time
// when !epochChecked(), and Grant.Check compares with g.Epoch() rather
// than g.epoch — one plant that every epoch comparison goes through.
func epochChecked() bool { return !mutant.On(mutant.EpochUnchecked) }
