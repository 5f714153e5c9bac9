//go:build !canarymutant

package mutant

// Built reports whether this binary can plant bugs: false without the tag.
const Built = false

// Activate selects nothing without the canarymutant tag: VIGIL_MUTANT is
// ignored.
func Activate(environ []string) (Name, error) { return "", nil }

// On is false without the canarymutant tag.
func On(Name) bool { return false }
