package record_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/record"
	"vigil/internal/testkit/simcam"
)

// paced publishes n frames at the camera's frame rate, as a camera does.
func (e *env) paced(f *simcam.Feed, n int) {
	e.t.Helper()
	next := time.Now()
	for range n {
		if err := f.Frame(); err != nil {
			e.t.Fatal(err)
		}
		next = next.Add(time.Second / testFPS)
		time.Sleep(time.Until(next))
	}
}

// TestEventRecordsPreAndPostRoll: a stream recorded around events only
// records nothing until an event; then one recording that starts with the
// pre-roll (from the keyframe at or before PreRoll before the mark) and
// ends at the first keyframe past the post-roll; nothing after it. It
// plays whole in ffprobe.
func TestEventRecordsPreAndPostRoll(t *testing.T) {
	needFFprobe(t)
	const preRoll, postRoll = 1500 * time.Millisecond, time.Second
	e := newEnvWith(t, func(c *record.Config) {
		c.Targets = func(context.Context) ([]record.Target, error) {
			return []record.Target{{Device: "cam-a", Stream: access.StreamMain, EventsOnly: true}}, nil
		}
		c.SegmentDuration, c.PreRoll, c.PostRoll = time.Minute, preRoll, postRoll
	})
	f := e.publish("cam-a")
	e.paced(f, 4*testGOP)
	g := e.owner("cam-a", "u-a")
	if spans, err := e.lib.Timeline(t.Context(), g, access.StreamMain, time.Now().Add(-time.Hour), time.Now()); len(spans) != 0 || err != nil {
		t.Fatalf("before any event: %d spans, %v; want none", len(spans), err)
	}
	mark := time.Now()
	e.rec.Event("cam-a", mark)
	e.paced(f, 4*testGOP)
	f.Pub.Close()
	spans := e.spans(g, 1)
	time.Sleep(200 * time.Millisecond) // a second span would be filed by now
	spans = e.spans(g, 1)
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1: %+v", len(spans), spans)
	}
	sp := spans[0]
	const slack = 700 * time.Millisecond // the recorder may lag a loaded machine's camera
	gop := time.Second * testGOP / testFPS
	if lo, hi := mark.Add(-preRoll-gop-slack), mark.Add(-preRoll+slack); sp.Start.Before(lo) || sp.Start.After(hi) {
		t.Errorf("the recording starts %v before the mark; want the pre-roll, %v to %v", mark.Sub(sp.Start), preRoll, preRoll+gop)
	}
	end := sp.Start.Add(sp.Duration)
	if lo, hi := mark.Add(postRoll-slack), mark.Add(postRoll+gop+slack); end.Before(lo) || end.After(hi) {
		t.Errorf("the recording ends %v after the mark; want the post-roll, %v to %v", end.Sub(mark), postRoll, postRoll+gop)
	}
	clip, err := e.lib.Open(t.Context(), g, sp.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := int(sp.Duration.Seconds()*testFPS + 0.5)
	if n := ffprobeFrames(t, readAll(t, clip.File())); n < want-1 || n > want+1 {
		t.Fatalf("ffprobe reads %d frames of a %v recording; want about %d", n, sp.Duration, want)
	}
}

// TestRetentionOfEvents, on a fake clock: an event stays while its
// camera's rule keeps it; past the rule's age, or once the camera changed
// hands, its row and its sealed thumbnail are deleted.
func TestRetentionOfEvents(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	ev := &record.Events{Index: e.st, Sealer: e.sealer, Blobs: e.blobs, Violations: e.violations}
	jpeg := []byte{0xff, 0xd8, 0xff, 0xd9}
	mark := func(dev access.DeviceID) record.Event {
		t.Helper()
		m, err := ev.Mark(ctx, dev, record.Event{Kind: record.EventMotion, Start: time.Now()}, jpeg)
		if err != nil || m.Thumb == "" {
			t.Fatalf("mark: %+v, %v", m, err)
		}
		return m
	}
	a, b := mark("cam-a"), mark("cam-b")
	now := time.Now()
	rules := map[access.DeviceID]record.Rule{"cam-a": {Age: time.Hour}, "cam-b": {Age: time.Hour}}
	ret := &record.Retention{Index: e.st, Events: e.st, Blobs: e.blobs,
		Devices: func(context.Context) ([]access.DeviceID, error) { return []access.DeviceID{"cam-a", "cam-b"}, nil },
		Rule:    func(_ context.Context, d access.DeviceID) (record.Rule, error) { return rules[d], nil },
		Now:     func() time.Time { return now },
	}
	kept := func(m record.Event, want bool) {
		t.Helper()
		_, rowErr := e.st.Event(ctx, m.ID)
		_, objErr := e.blobs.Stat(ctx, m.Thumb)
		if (rowErr == nil) != want || (objErr == nil) != want {
			t.Fatalf("event %d of %s: row %v, thumbnail %v; want kept %v", m.ID, m.Device, rowErr, objErr, want)
		}
	}
	if _, err := ret.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	kept(a, true)
	kept(b, true)
	if got, err := ev.Thumbnail(ctx, e.owner("cam-a", "u-a"), a.ID); err != nil || !bytes.Equal(got, jpeg) {
		t.Fatalf("a kept event's thumbnail: %v", err)
	}
	if err := e.st.ResetDevice(ctx, "cam-b", "code-again"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.ClaimDevice(ctx, "code-again", "u-c"); err != nil {
		t.Fatal(err)
	}
	if _, err := ret.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	kept(a, true)
	kept(b, false) // an earlier epoch's
	now = now.Add(2 * time.Hour)
	if _, err := ret.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	kept(a, false) // past the age
}

// TestEventStartsAtItsThumbnail: an event marked now whose thumbnail the
// camera took earlier starts when the thumbnail was taken, so a
// sharee whose share began between the two is not shown that picture —
// the thumbnail's egress check is by the event's start (invariant 8).
// And an event marked for a moment ahead starts when it was marked.
func TestEventStartsAtItsThumbnail(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	jpeg := []byte{0xff, 0xd8, 0xff, 0xd9}
	taken := time.Now() // after the claim: the current owner's picture
	time.Sleep(300 * time.Millisecond)
	ev := &record.Events{Index: e.st, Sealer: e.sealer, Blobs: e.blobs, Violations: e.violations,
		Thumb: func(context.Context, access.DeviceID) ([]byte, time.Time, error) { return jpeg, taken, nil }}
	m, err := ev.Mark(ctx, "cam-a", record.Event{Kind: record.EventMotion, Start: time.Now()}, nil)
	if err != nil || m.Thumb == "" {
		t.Fatalf("mark: %+v, %v", m, err)
	}
	if !m.Start.Equal(taken) {
		t.Errorf("the event starts %v after its thumbnail was taken; want at it", m.Start.Sub(taken))
	}
	sharee := issuer.MintLeased("u-b", "cam-a", access.AudienceWeb, time.Hour, nil, taken.Add(150*time.Millisecond))
	if got, err := ev.Thumbnail(ctx, sharee, m.ID); err == nil || got != nil {
		t.Fatalf("a sharee from after the picture was taken got its %d bytes", len(got))
	}
	if got, err := ev.Thumbnail(ctx, e.owner("cam-a", "u-a"), m.ID); err != nil || !bytes.Equal(got, jpeg) {
		t.Fatalf("the owner's thumbnail: %d bytes, %v", len(got), err)
	}
	ahead, err := ev.Mark(ctx, "cam-a", record.Event{Kind: record.EventRing, Start: time.Now().Add(30 * time.Second)}, jpeg)
	if err != nil || ahead.Start.After(time.Now()) {
		t.Fatalf("an event marked for 30 s ahead with an uploaded thumbnail starts %v from now, %v; want no later than now",
			time.Until(ahead.Start).Round(time.Second), err)
	}
}
