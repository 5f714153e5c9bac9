package record_test

import (
	"slices"
	"testing"
	"time"

	"vigil/internal/record"
)

// TestReview: events that overlap or follow within the gap merge into one
// item spanning them all (kinds once each); a longer pause starts a new
// item; an event without an end is an instant; items never overlap.
func TestReview(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	ev := func(id int64, kind record.EventKind, from, to int) record.Event {
		e := record.Event{ID: id, Kind: kind, Start: at(from)}
		if to >= 0 {
			e.End = at(to)
		}
		return e
	}
	for _, c := range []struct {
		name   string
		events []record.Event
		want   [][]int64 // event ids per item
		spans  [][2]int
	}{
		{"none", nil, nil, nil},
		{"overlapping", []record.Event{ev(1, "motion", 0, 10), ev(2, "person", 3, 6), ev(3, "motion", 8, 20)},
			[][]int64{{1, 2, 3}}, [][2]int{{0, 20}}},
		{"within the gap", []record.Event{ev(1, "motion", 0, 10), ev(2, "ring", 15, -1)},
			[][]int64{{1, 2}}, [][2]int{{0, 15}}},
		{"past the gap", []record.Event{ev(1, "motion", 0, 10), ev(2, "sound", 16, 18), ev(3, "motion", 30, -1), ev(4, "motion", 35, -1)},
			[][]int64{{1}, {2}, {3, 4}}, [][2]int{{0, 10}, {16, 18}, {30, 35}}},
		{"a long one swallows later ones", []record.Event{ev(1, "motion", 0, 100), ev(2, "person", 10, 12), ev(3, "motion", 104, 110)},
			[][]int64{{1, 2, 3}}, [][2]int{{0, 110}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			items := record.Review(c.events, record.ReviewGap)
			if len(items) != len(c.want) {
				t.Fatalf("%d items, want %d: %+v", len(items), len(c.want), items)
			}
			for i, it := range items {
				var ids []int64
				for _, e := range it.Events {
					ids = append(ids, e.ID)
				}
				if !slices.Equal(ids, c.want[i]) || !it.Start.Equal(at(c.spans[i][0])) || !it.End.Equal(at(c.spans[i][1])) {
					t.Errorf("item %d: events %v over %v-%v; want %v over %ds-%ds", i, ids, it.Start.Sub(t0), it.End.Sub(t0), c.want[i], c.spans[i][0], c.spans[i][1])
				}
				if i > 0 && !items[i-1].End.Before(it.Start) {
					t.Errorf("items %d and %d overlap", i-1, i)
				}
			}
		})
	}
	items := record.Review([]record.Event{ev(1, "motion", 0, 1), ev(2, "person", 2, 3), ev(3, "motion", 4, 5)}, record.ReviewGap)
	if !slices.Equal(items[0].Kinds, []record.EventKind{"motion", "person"}) {
		t.Errorf("kinds %v, want motion, person", items[0].Kinds)
	}
}
