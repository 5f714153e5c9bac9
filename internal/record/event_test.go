package record_test

import (
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
	const slack = 300 * time.Millisecond
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
