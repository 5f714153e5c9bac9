//go:build canarymutant

package access

import "vigil/internal/mutant"

// epochChecked is false when mutant.EpochUnchecked is planted: the egress
// check then lets an object captured before the grant's epoch through.
//
// TODO(epoch merge): Grant.Check guards its epoch comparison with it:
// `if epochChecked() && captured.Before(g.epoch)`.
func epochChecked() bool { return !mutant.On(mutant.EpochUnchecked) }
