package household

import (
	"fmt"
	"testing"
	"time"
)

// TestGroupedHistory: the page's thumbnail refreshes (a still every 10 s)
// read as one line per viewer and address; a pause longer than the gap,
// another viewer, output or address starts a line; an ongoing session
// keeps its line open (no end).
func TestGroupedHistory(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 14, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	still := func(user, remote string, s int) AccessView {
		return AccessView{User: user, Output: "still", Audience: "web", Remote: remote, Started: at(s), Ended: at(s), Bytes: 100}
	}
	var rows []AccessView // newest first, as History returns them
	rows = append(rows, AccessView{User: "olga", Output: "webrtc", Audience: "web", Remote: "a", Started: at(1000), Bytes: 9000})
	for s := 990; s >= 700; s -= 10 { // olga's page, 30 refreshes, each from its own port
		rows = append(rows, still("olga", fmt.Sprintf("a:%d", 40000+s), s))
	}
	rows = append(rows, still("vera", "b", 695))
	for s := 300; s >= 200; s -= 10 { // olga again after a 6.7-minute pause
		rows = append(rows, still("olga", "a", s))
	}
	rows = append(rows, still("olga", "c", 150)) // from another address

	got := Grouped(rows, HistoryGap)
	want := []struct {
		user, output, remote string
		count                int
		started, ended       time.Time
		bytes                int64
	}{
		{"olga", "webrtc", "a", 1, at(1000), time.Time{}, 9000},
		{"olga", "still", "a", 30, at(700), at(990), 3000},
		{"vera", "still", "b", 1, at(695), at(695), 100},
		{"olga", "still", "a", 11, at(200), at(300), 1100},
		{"olga", "still", "c", 1, at(150), at(150), 100},
	}
	if len(got) != len(want) {
		t.Fatalf("%d lines, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.User != w.user || g.Output != w.output || g.Remote != w.remote || g.Count != w.count ||
			!g.Started.Equal(w.started) || !g.Ended.Equal(w.ended) || g.Bytes != w.bytes {
			t.Errorf("line %d: %+v, want %+v", i, g, w)
		}
	}
	if len(Grouped(nil, HistoryGap)) != 0 {
		t.Error("no rows, some lines")
	}
}
