package main

import (
	"testing"
	"time"
)

func TestTallyShots(t *testing.T) {
	t0 := time.Unix(100, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	shots := []shot{
		{due: at(0), end: at(1), captured: "A"},  // primed: a hit
		{due: at(1), end: at(2), captured: "A"},  // hit
		{due: at(2), end: at(80), captured: "B"}, // started B's decode
		{due: at(3), end: at(80), captured: "B"}, // waited for it
		{due: at(4), end: at(9), err: errNotKeyframe{}},
		{due: at(81), end: at(82), captured: "B"}, // hit: B was out
		{}, // never sent
	}
	l := tallyShots(shots, "A", 1000, time.Second)
	if l.sent != 6 || l.errors != 1 || len(l.all) != 5 || len(l.hits) != 3 || len(l.waited) != 2 {
		t.Fatalf("sent %d errors %d all %d hits %d waited %d; want 6 1 5 3 2",
			l.sent, l.errors, len(l.all), len(l.hits), len(l.waited))
	}
	if l.elapsed != 82*time.Millisecond {
		t.Errorf("elapsed %s, want 82ms", l.elapsed)
	}
}
