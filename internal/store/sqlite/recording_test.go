package sqlite

import (
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/record"
	"vigil/internal/store"
)

// TestRecordings: rows come back whole (fragments included), listed only
// for their epoch and stream and when they overlap the asked span.
func TestRecordings(t *testing.T) {
	ctx := t.Context()
	s := open(t, filepath.Join(t.TempDir(), "v.db"))
	if err := s.CreateDevice(ctx, device("cam-one", "porch")); err != nil {
		t.Fatal(err)
	}
	epoch, secret, err := s.Epoch(ctx, "cam-one")
	if err != nil || len(secret) != 32 || epoch.IsZero() {
		t.Fatalf("Epoch = %v, %d bytes, %v", epoch, len(secret), err)
	}
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	frags := []record.Fragment{{Offset: 1200, Time: 0, Key: true}, {Offset: 90_000, Time: 2 * time.Second, Key: true}}
	add := func(stream access.StreamID, ep time.Time, start time.Time, obj string) int64 {
		id, err := s.AddRecording(ctx, record.Recording{Device: "cam-one", Stream: stream, Epoch: ep, SegmentID: 1<<63 + 5,
			Start: start, Duration: time.Minute, Size: 123_456, Object: obj, Fragments: frags})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	a := add(access.StreamMain, epoch, t0, "rec/a")
	b := add(access.StreamMain, epoch, t0.Add(time.Minute), "rec/b")
	add(access.StreamSub, epoch, t0, "rec/c")
	add(access.StreamMain, epoch.Add(-time.Hour), t0, "rec/d") // an older epoch
	if _, err := s.AddRecording(ctx, record.Recording{Device: "cam-one", Object: "rec/a"}); err == nil {
		t.Fatal("a second row for one object was accepted")
	}
	ids := func(from, to time.Time) []int64 {
		rs, err := s.Recordings(ctx, "cam-one", access.StreamMain, epoch, from, to)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	for _, c := range []struct {
		from, to time.Time
		want     []int64
	}{
		{t0.Add(-time.Hour), t0.Add(time.Hour), []int64{a, b}},
		{t0.Add(30 * time.Second), t0.Add(61 * time.Second), []int64{a, b}},
		{t0.Add(time.Minute), t0.Add(time.Hour), []int64{b}},
		{t0.Add(-time.Hour), t0, nil},
	} {
		if got := ids(c.from, c.to); !slices.Equal(got, c.want) {
			t.Errorf("Recordings(%v, %v) = %v, want %v", c.from, c.to, got, c.want)
		}
	}
	r, err := s.Recording(ctx, a)
	if err != nil || r.SegmentID != 1<<63+5 || !r.Start.Equal(t0) || !r.Epoch.Equal(epoch) || r.Size != 123_456 ||
		!slices.Equal(r.Fragments, frags) || r.Stream != access.StreamMain {
		t.Fatalf("Recording = %+v, %v", r, err)
	}
	if err := s.DeleteRecording(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recording(ctx, a); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Recording after delete: %v", err)
	}
}
