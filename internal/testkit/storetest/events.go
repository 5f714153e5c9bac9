package storetest

import (
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/record"
	"vigil/internal/store"
)

// testEvents: events come back whole, listed only for their device and
// epoch with a start in the asked span, by start, up to the limit.
func testEvents(t *testing.T, b Backend) {
	ctx := t.Context()
	s := b.open(t)
	createDevices(t, s, "cam-one", "porch", "cam-two", "yard")
	epoch := device("cam-one", "").EpochStarted
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	add := func(e record.Event) int64 {
		t.Helper()
		id, err := s.AddEvent(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	whole := record.Event{Device: "cam-one", Epoch: epoch, Kind: record.EventPerson, Start: t0.Add(time.Second),
		End: t0.Add(9 * time.Second), Score: 0.75, ThumbID: 1<<63 + 7, Thumb: "evt/cam-one/x.jpg"}
	a := add(whole)
	bare := add(record.Event{Device: "cam-one", Epoch: epoch, Kind: record.EventMotion, Start: t0})
	late := add(record.Event{Device: "cam-one", Epoch: epoch, Kind: record.EventRing, Start: t0.Add(time.Hour)})
	add(record.Event{Device: "cam-one", Epoch: epoch.Add(-time.Hour), Kind: record.EventRing, Start: t0}) // an older epoch
	add(record.Event{Device: "cam-two", Epoch: epoch, Kind: record.EventSound, Start: t0})
	ids := func(es []record.Event, err error) []int64 {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	for _, c := range []struct {
		from, to time.Time
		limit    int
		want     []int64
	}{
		{t0.Add(-time.Hour), t0.Add(2 * time.Hour), 10, []int64{bare, a, late}},
		{t0.Add(-time.Hour), t0.Add(2 * time.Hour), 2, []int64{bare, a}},
		{t0.Add(time.Second), t0.Add(time.Hour), 10, []int64{a}},
		{t0.Add(-time.Hour), t0, 10, nil},
	} {
		if got := ids(s.Events(ctx, "cam-one", epoch, c.from, c.to, c.limit)); !slices.Equal(got, c.want) {
			t.Errorf("Events(%v, %v, %d) = %v, want %v", c.from, c.to, c.limit, got, c.want)
		}
	}
	if got := ids(s.OldestEvents(ctx, "cam-one", 3)); len(got) != 3 || got[2] != a {
		t.Errorf("OldestEvents = %v, want the older epoch's, %d and %d", got, bare, a)
	}
	if err := s.DeleteEvent(ctx, bare); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Event(ctx, bare); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Event after delete: %v", err)
	}
	bare = add(record.Event{Device: "cam-one", Epoch: epoch, Kind: record.EventMotion, Start: t0})
	whole.ID = a
	if e, err := s.Event(ctx, a); err != nil || e != whole {
		t.Fatalf("Event = %+v, %v; want %+v", e, err, whole)
	}
	if e, err := s.Event(ctx, bare); err != nil || !e.End.IsZero() || e.Thumb != "" || e.Kind != record.EventMotion {
		t.Fatalf("an event without end or thumbnail = %+v, %v", e, err)
	}
	if _, err := s.Event(ctx, 1<<40); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a missing event: %v", err)
	}
}

// testContinuous: a camera records its main stream continuously and not
// its sub stream until set otherwise; a missing camera has no flags.
func testContinuous(t *testing.T, b Backend) {
	ctx := t.Context()
	s := b.open(t)
	if err := s.CreateDevice(ctx, device("cam-one", "porch")); err != nil {
		t.Fatal(err)
	}
	if c, err := s.Continuous(ctx, "cam-one"); c != (record.Continuous{Main: true}) || err != nil {
		t.Fatalf("a new camera's flags = %+v, %v; want main only", c, err)
	}
	for _, want := range []record.Continuous{{Sub: true}, {Main: true, Sub: true}, {}} {
		if err := s.SetContinuous(ctx, "cam-one", want); err != nil {
			t.Fatal(err)
		}
		if c, err := s.Continuous(ctx, "cam-one"); c != want || err != nil {
			t.Fatalf("flags = %+v, %v; want %+v", c, err, want)
		}
	}
	createDevices(t, s, "cam-two", "yard")
	all, err := s.AllContinuous(ctx)
	if want := map[access.DeviceID]record.Continuous{"cam-one": {}, "cam-two": {Main: true}}; err != nil || !maps.Equal(all, want) {
		t.Fatalf("AllContinuous = %v, %v; want %v", all, err, want)
	}
	if err := s.SetContinuous(ctx, "cam-none", record.Continuous{}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SetContinuous of a missing camera: %v", err)
	}
	if _, err := s.Continuous(ctx, "cam-none"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Continuous of a missing camera: %v", err)
	}
}
