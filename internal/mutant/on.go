//go:build canarymutant

package mutant

import (
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
)

// Built reports whether this binary can plant bugs.
const Built = true

// active is the planted bug, set once by Activate (a package variable only
// in canarymutant builds).
var active atomic.Pointer[Name]

// Activate plants the bug named by VIGIL_MUTANT in environ, if any.
func Activate(environ []string) (Name, error) {
	var v string
	for _, kv := range environ {
		if s, ok := strings.CutPrefix(kv, EnvVar+"="); ok {
			v = s
		}
	}
	if v == "" {
		return "", nil
	}
	n := Name(v)
	if !slices.Contains(Names(), n) {
		return "", fmt.Errorf("%s=%q: want one of %v", EnvVar, v, Names())
	}
	active.Store(&n)
	return n, nil
}

// On reports whether bug n is planted.
func On(n Name) bool {
	p := active.Load()
	return p != nil && *p == n
}
