package main

import (
	"runtime/debug"
	"testing"
)

// TestTuneGC: serve lowers GOGC unless the environment sets it.
func TestTuneGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	for _, tc := range []struct {
		environ []string
		want    int
	}{
		{nil, gcPercent},
		{[]string{"GOGC="}, gcPercent},
		{[]string{"HOME=/", "GOGC=100"}, 100},
		{[]string{"GOGC=off"}, 100}, // left as it was: the runtime read it at start
	} {
		debug.SetGCPercent(100)
		tuneGC(tc.environ)
		if got := debug.SetGCPercent(100); got != tc.want {
			t.Errorf("environment %q: GOGC %d, want %d", tc.environ, got, tc.want)
		}
	}
}
