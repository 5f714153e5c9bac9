//go:build canarymutant

package mutant

import "testing"

// TestActivate: one bug, named in the environment, is planted; an unknown
// name is refused.
func TestActivate(t *testing.T) {
	if _, err := Activate([]string{EnvVar + "=no-such-bug"}); err == nil {
		t.Error("unknown mutant accepted")
	}
	n, err := Activate([]string{"HOME=/", EnvVar + "=" + string(TokenUnbound)})
	if n != TokenUnbound || err != nil {
		t.Fatalf("Activate = %q, %v", n, err)
	}
	for _, m := range Names() {
		if On(m) != (m == TokenUnbound) {
			t.Errorf("On(%s) = %v", m, On(m))
		}
	}
}
