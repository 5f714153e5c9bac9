package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/record"
	"vigil/internal/store"
)

// testRecordings: rows come back whole (fragments included), listed only
// for their epoch and stream and when they overlap the asked span; one
// object has one row; walking, oldest-first listing, sizes and deletion.
func testRecordings(t *testing.T, b Backend) {
	ctx := t.Context()
	s := b.open(t)
	createDevices(t, s, "cam-one", "porch", "cam-two", "yard")
	epoch, secret, err := s.Epoch(ctx, "cam-one")
	if err != nil || len(secret) != store.EpochSecretSize || !epoch.Equal(device("cam-one", "").EpochStarted) {
		t.Fatalf("Epoch = %v, %d bytes, %v", epoch, len(secret), err)
	}
	if _, _, err := s.Epoch(ctx, "cam-none"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Epoch of a missing device: %v", err)
	}
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	frags := []record.Fragment{{Offset: 1200, Time: 0, Key: true}, {Offset: 90_000, Time: 2 * time.Second, Key: true}}
	add := func(dev access.DeviceID, stream access.StreamID, ep time.Time, start time.Time, obj string) int64 {
		id, err := s.AddRecording(ctx, record.Recording{Device: dev, Stream: stream, Epoch: ep, SegmentID: 1<<63 + 5,
			Start: start, Duration: time.Minute, Size: 123_456, Object: obj, Fragments: frags})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	a := add("cam-one", access.StreamMain, epoch, t0, "rec/a")
	bb := add("cam-one", access.StreamMain, epoch, t0.Add(time.Minute), "rec/b")
	c := add("cam-one", access.StreamSub, epoch, t0, "rec/c")
	d := add("cam-one", access.StreamMain, epoch.Add(-time.Hour), t0.Add(-time.Hour), "rec/d") // an older epoch
	other := add("cam-two", access.StreamMain, epoch, t0, "rec/e")
	if _, err := s.AddRecording(ctx, record.Recording{Device: "cam-one", Object: "rec/a"}); !errors.Is(err, record.ErrIndexed) ||
		!errors.Is(err, store.ErrExists) {
		t.Fatalf("a second row for one object: %v, want record.ErrIndexed and store.ErrExists", err)
	}
	ids := func(rs []record.Recording, err error) []int64 {
		t.Helper()
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
		{t0.Add(-time.Hour), t0.Add(time.Hour), []int64{a, bb}},
		{t0.Add(30 * time.Second), t0.Add(61 * time.Second), []int64{a, bb}},
		{t0.Add(time.Minute), t0.Add(time.Hour), []int64{bb}},
		{t0.Add(-time.Hour), t0, nil},
	} {
		if got := ids(s.Recordings(ctx, "cam-one", access.StreamMain, epoch, c.from, c.to)); !slices.Equal(got, c.want) {
			t.Errorf("Recordings(%v, %v) = %v, want %v", c.from, c.to, got, c.want)
		}
	}
	r, err := s.Recording(ctx, a)
	if err != nil || r.SegmentID != 1<<63+5 || !r.Start.Equal(t0) || !r.Epoch.Equal(epoch) || r.Size != 123_456 ||
		!slices.Equal(r.Fragments, frags) || r.Stream != access.StreamMain || r.Object != "rec/a" || r.Duration != time.Minute {
		t.Fatalf("Recording = %+v, %v", r, err)
	}
	if got := ids(s.OldestRecordings(ctx, "cam-one", 3)); !slices.Equal(got, []int64{d, a, c}) {
		t.Errorf("OldestRecordings = %v, want %v", got, []int64{d, a, c})
	}
	if got := ids(s.OldestRecordingsAfter(ctx, "cam-one", time.Time{}, 0, 2)); !slices.Equal(got, []int64{d, a}) {
		t.Errorf("OldestRecordingsAfter(the start) = %v, want %v", got, []int64{d, a})
	}
	if got := ids(s.OldestRecordingsAfter(ctx, "cam-one", t0, a, 10)); !slices.Equal(got, []int64{c, bb}) {
		t.Errorf("OldestRecordingsAfter(a) = %v, want %v", got, []int64{c, bb})
	}
	if got := ids(s.RecordingsAfter(ctx, a, 10)); !slices.Equal(got, []int64{bb, c, d, other}) {
		t.Errorf("RecordingsAfter = %v, want %v", got, []int64{bb, c, d, other})
	}
	if n, err := s.RecordingBytes(ctx, "cam-one"); n != 4*123_456 || err != nil {
		t.Errorf("RecordingBytes = %d, %v", n, err)
	}
	if err := s.DeleteRecording(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recording(ctx, a); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Recording after delete: %v", err)
	}
	if n, _ := s.RecordingBytes(ctx, "cam-one"); n != 3*123_456 {
		t.Errorf("RecordingBytes after a delete = %d", n)
	}
}

// testRetentionRules: a camera's retention rule is zero (the server's
// default) until set, reads back whole (the prior rule and when it
// changed too), and a missing camera has none.
func testRetentionRules(t *testing.T, b Backend) {
	ctx := t.Context()
	s := b.open(t)
	if err := s.CreateDevice(ctx, device("cam-one", "porch")); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Retention(ctx, "cam-one"); r != (record.Retain{}) || err != nil {
		t.Fatalf("a new camera's rule = %+v, %v; want zero", r, err)
	}
	want := record.Retain{Rule: record.Rule{Age: 30 * 24 * time.Hour, EventAge: 60 * 24 * time.Hour, Bytes: 5 << 30},
		Prior: record.Rule{Age: 90 * 24 * time.Hour, EventAge: 1, Bytes: 7}, Changed: time.Date(2026, 12, 3, 1, 2, 3, 4, time.UTC)}
	if err := s.SetRetention(ctx, "cam-one", want); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Retention(ctx, "cam-one"); r != want || err != nil {
		t.Fatalf("rule = %+v, %v; want %+v", r, err, want)
	}
	if err := s.SetRetention(ctx, "cam-none", want); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SetRetention of a missing camera: %v", err)
	}
	if _, err := s.Retention(ctx, "cam-none"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Retention of a missing camera: %v", err)
	}
}

// testPinsAndQuota: pins come back whole, by start, per device; a pin of
// a missing camera or person is refused; deleting the camera ends its
// pins; a household's quota is 0 until set.
func testPinsAndQuota(t *testing.T, b Backend) {
	ctx := t.Context()
	s := b.open(t)
	createDevices(t, s, "cam-one", "porch", "cam-two", "yard")
	for _, u := range []access.UserID{"u-one", "u-two"} {
		if err := s.UpsertUser(ctx, store.User{ID: u, Name: string(u)}); err != nil {
			t.Fatal(err)
		}
	}
	epoch := device("cam-one", "").EpochStarted
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	add := func(p record.Pin) record.Pin {
		t.Helper()
		id, err := s.AddPin(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		p.ID = id
		return p
	}
	late := add(record.Pin{Device: "cam-one", Epoch: epoch, User: "u-one", Start: t0.Add(time.Hour), End: t0.Add(2 * time.Hour),
		Created: t0.Add(3 * time.Hour)})
	early := add(record.Pin{Device: "cam-one", Epoch: epoch, User: "u-two", Start: t0, End: t0.Add(time.Minute), Event: 42,
		Created: t0.Add(time.Hour)})
	add(record.Pin{Device: "cam-two", Epoch: epoch, User: "u-one", Start: t0, End: t0.Add(time.Minute), Created: t0})
	if got, err := s.Pins(ctx, "cam-one"); err != nil || !slices.Equal(got, []record.Pin{early, late}) {
		t.Fatalf("Pins = %+v, %v; want %+v", got, err, []record.Pin{early, late})
	}
	for _, p := range []record.Pin{{Device: "cam-none", User: "u-one"}, {Device: "cam-one", User: "u-none"}} {
		p.Start, p.End, p.Epoch = t0, t0.Add(time.Second), epoch
		if _, err := s.AddPin(ctx, p); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("AddPin(%s, %s): %v, want not found", p.Device, p.User, err)
		}
	}
	if err := s.DeletePin(ctx, early.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Pins(ctx, "cam-one"); !slices.Equal(got, []record.Pin{late}) {
		t.Fatalf("Pins after a delete = %+v", got)
	}
	add(record.Pin{Device: "cam-two", Epoch: epoch, User: "u-two", Start: t0, End: t0.Add(time.Minute), Created: t0})
	if err := s.DeleteDevice(ctx, "cam-two"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Pins(ctx, "cam-two"); len(got) != 0 {
		t.Fatalf("a deleted camera's pins = %+v", got)
	}
	if n, err := s.Quota(ctx, "u-two"); n != 0 || err != nil {
		t.Fatalf("a new household's quota = %d, %v", n, err)
	}
	if err := s.SetQuota(ctx, "u-two", 3<<30); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Quota(ctx, "u-two"); n != 3<<30 || err != nil {
		t.Fatalf("quota = %d, %v", n, err)
	}
	if err := s.SetQuota(ctx, "u-none", 1); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SetQuota of a missing person: %v", err)
	}
	if _, err := s.Quota(ctx, "u-none"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Quota of a missing person: %v", err)
	}
}
