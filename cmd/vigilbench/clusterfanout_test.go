package main

import "testing"

func TestByNodePutsTheMeasuredServerAtItsNode(t *testing.T) {
	w := func(cpu float64) serverWindow { return serverWindow{usage: usage{cpuPct: cpu}} }
	m := measurement{vigil: usage{cpuPct: 2}, also: []serverWindow{w(1), w(3)}}
	for _, tc := range []struct {
		at   int
		want []float64
	}{
		{0, []float64{2, 1, 3}},
		{1, []float64{1, 2, 3}},
		{2, []float64{1, 3, 2}},
	} {
		got := byNode(m, tc.at)
		if len(got) != len(tc.want) {
			t.Fatalf("at %d: %d nodes, want %d", tc.at, len(got), len(tc.want))
		}
		for i, g := range got {
			if g.cpuPct != tc.want[i] {
				t.Errorf("at %d: node %d CPU %.0f, want %.0f", tc.at, i, g.cpuPct, tc.want[i])
			}
		}
	}
	if got := byNode(m, 3); got != nil {
		t.Errorf("at 3 of 3 nodes: %v, want nil", got)
	}
	if m.also[0].cpuPct != 1 || m.also[1].cpuPct != 3 {
		t.Errorf("byNode changed m.also: %v", m.also)
	}
}

func TestSteady(t *testing.T) {
	for _, tc := range []struct {
		a, b float64
		want bool
	}{
		{10, 12, true},  // within 25%
		{10, 13, false}, // 30% and 3 points
		{1, 2.9, true},  // within 2 points of a core
		{1, 3.5, false}, // beyond both
		{40, 30, true},  // down 25%
		{40, 29, false}, // down more
	} {
		if got := steady(tc.a, tc.b); got != tc.want {
			t.Errorf("steady(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestCameraRowFits(t *testing.T) {
	row := func(mbps float64, stalls, reconnects uint64) cameraRow {
		return cameraRow{measurement: measurement{rw: readerWindow{mbps: mbps, stalls: stalls}}, cameras: 100, readers: 100,
			idealMbps: 100, reconnects: reconnects}
	}
	for _, tc := range []struct {
		name string
		row  cameraRow
		want bool
	}{
		{"all delivered", row(104, 0, 0), true},
		{"a stall", row(104, 1, 0), false},
		{"a camera reconnect", row(104, 0, 1), false},
		{"95% delivered", row(95, 0, 0), false},
		{"nothing measured", cameraRow{}, false},
		{"cameras alone, steady", cameraRow{cameras: 5}, true},
		{"cameras alone, one reconnected", cameraRow{cameras: 5, reconnects: 1}, false},
	} {
		if got := tc.row.fits(); got != tc.want {
			t.Errorf("%s: fits = %v, want %v", tc.name, got, tc.want)
		}
	}
}
