package app

import (
	"strings"
	"testing"
)

// TestRepeatedStillsWriteNothing: a tile refreshing a camera's still is
// one viewing in the history, not a write per picture. Each still once
// wrote a session's start and end (two fsynced SQLite writes), which capped
// cached stills at about 200/s and queued every other write behind them.
func TestRepeatedStillsWriteNothing(t *testing.T) {
	a := startApp(t, "", nil)
	pw := a.addUser(t, "olga")
	cam := a.addCamera(t, "porch")
	claimFor(t, a, cam, "olga")
	a.runClaimed(t, cam)
	trace := a.traceStatements(t)
	if code, _, body := a.get(t, "/api/cameras/"+cam.ID+"/still.jpg", "olga", pw); code != 200 {
		t.Fatalf("first still: %d %s", code, body)
	}
	if writes := writesOf(trace.take()); len(writes) == 0 {
		t.Fatal("the first still recorded no viewing")
	}
	for range 5 {
		if code, _, body := a.get(t, "/api/cameras/"+cam.ID+"/still.jpg", "olga", pw); code != 200 {
			t.Fatalf("still: %d %s", code, body)
		}
	}
	if writes := writesOf(trace.take()); len(writes) > 0 {
		t.Errorf("5 more stills from the same viewer wrote %d statements:\n%s", len(writes), strings.Join(writes, "\n"))
	}
}

// writesOf returns the statements that write.
func writesOf(qs []string) []string {
	var w []string
	for _, q := range qs {
		if u := strings.ToUpper(q); strings.HasPrefix(u, "INSERT") || strings.HasPrefix(u, "UPDATE") || strings.HasPrefix(u, "DELETE") {
			w = append(w, q)
		}
	}
	return w
}
