//go:build !canarymutant

package mutant

import "testing"

// TestNormalBuildPlantsNothing: without the tag VIGIL_MUTANT is ignored
// and no bug is ever on.
func TestNormalBuildPlantsNothing(t *testing.T) {
	n, err := Activate([]string{EnvVar + "=" + string(PoolReuse)})
	if n != "" || err != nil || Built {
		t.Fatalf("Activate = %q, %v; Built %v", n, err, Built)
	}
	for _, m := range Names() {
		if On(m) {
			t.Errorf("%s is on in a normal build", m)
		}
	}
}
