package record

import (
	"slices"
	"time"
)

// ReviewGap is how close two events of a camera must be to be reviewed
// as one item: overlapping, or the later starting within this of the
// earlier's end.
const ReviewGap = 5 * time.Second

// ReviewItem is a stretch of a camera's activity to review: events that
// overlap or follow each other within the gap, merged. Items of a camera
// do not overlap.
type ReviewItem struct {
	Start time.Time
	End   time.Time
	// Kinds are the kinds of its events, each once, in the order first
	// seen.
	Kinds  []EventKind
	Events []Event
}

// Review merges events (of one camera, by start, as Events.List gives
// them) into review items, in order. An event without an end lasts an
// instant.
func Review(events []Event, gap time.Duration) []ReviewItem {
	items := []ReviewItem{}
	for _, e := range events {
		end := latest(e.Start, e.End)
		if n := len(items); n > 0 && !e.Start.After(items[n-1].End.Add(gap)) {
			it := &items[n-1]
			it.End = latest(it.End, end)
			it.Events = append(it.Events, e)
			if !slices.Contains(it.Kinds, e.Kind) {
				it.Kinds = append(it.Kinds, e.Kind)
			}
			continue
		}
		items = append(items, ReviewItem{Start: e.Start, End: end, Kinds: []EventKind{e.Kind}, Events: []Event{e}})
	}
	return items
}
