//go:build canarymutant

package access

import "vigil/internal/mutant"

// epochChecked is false when mutant.EpochUnchecked is planted: grants are
// then blind to time.
func epochChecked() bool { return !mutant.On(mutant.EpochUnchecked) }
