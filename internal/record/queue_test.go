package record_test

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/blob"
	"vigil/internal/record"
	"vigil/internal/testkit"
)

// gatedBlobs holds every Put until gate is closed: a store that fell behind.
type gatedBlobs struct {
	blob.Store
	gate chan struct{}
}

func (g gatedBlobs) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	select {
	case <-g.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.Store.Put(ctx, key, r, size)
}

// TestSlowStoreDropsFragmentsNotViewers: while the store takes nothing, the
// recorder's bounded queue fills and whole fragments are dropped (counted);
// a live viewer of the same camera gets every frame without a skip; once
// the store catches up, the segment is filed with the fragments it kept,
// each where its row says.
func TestSlowStoreDropsFragmentsNotViewers(t *testing.T) {
	needFFprobe(t)
	gate := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(gate) }) }
	t.Cleanup(release)
	e := newEnvWith(t, func(c *record.Config) {
		c.Blobs = gatedBlobs{Store: c.Blobs, gate: gate}
		c.QueueBytes = 1 << 20 // a GOP of this camera is about 360 KB
		c.SegmentDuration = time.Hour
	})
	f := e.publish("cam-a")
	viewer, err := e.hub.Read(issuer.Mint("u-a", "cam-a", access.AudienceWeb, time.Hour), access.StreamMain)
	if err != nil {
		t.Fatal(err)
	}
	var read atomic.Int64
	go func() {
		for {
			if _, err := viewer.Next(context.Background()); err != nil {
				return
			}
			read.Add(1)
		}
	}()
	const gops = 12
	e.frames(f, gops*testGOP)
	testkit.WaitFor(t, 10*time.Second, "the viewer reads every frame", func() error {
		if n := read.Load(); n < gops*testGOP {
			return fmt.Errorf("the viewer read %d frames of %d", n, gops*testGOP)
		}
		return nil
	})
	if viewer.Skips() != 0 {
		t.Fatalf("the live viewer skipped %d times while the store was stalled", viewer.Skips())
	}
	f.Pub.Close()
	release()
	spans := e.spans(e.owner("cam-a", "u-a"), 1)
	dropped := e.metric("vigil_record_dropped_fragments_total")
	if dropped == 0 {
		t.Fatal("a stalled store dropped no fragment: the queue is not bounded")
	}
	clip, err := e.lib.Open(t.Context(), e.owner("cam-a", "u-a"), spans[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	rec := clip.Recording()
	file := readAll(t, clip.File())
	// (The recorder's own hub reader may also skip GOPs on a loaded
	// machine, so kept and dropped need not add up to every GOP.)
	if len(rec.Fragments) == 0 {
		t.Fatalf("no fragment kept (%v dropped)", dropped)
	}
	for _, fr := range rec.Fragments {
		if string(file[fr.Offset+4:fr.Offset+8]) != "moof" {
			t.Fatalf("fragment at %d is %q", fr.Offset, file[fr.Offset+4:fr.Offset+8])
		}
	}
	if n := ffprobeFrames(t, file); n < testGOP {
		t.Fatalf("ffprobe reads %d frames of the kept fragments", n)
	}
	t.Logf("%d fragments kept, %v dropped", len(rec.Fragments), dropped)
}

// TestStalledStoreDoesNotHoldTheRecorder: when not even a segment's first
// fragment fits the queue, the segment is abandoned (counted) without
// waiting for the stalled store, and the recorder tries again at the next
// keyframe; nothing is filed.
func TestStalledStoreDoesNotHoldTheRecorder(t *testing.T) {
	gate := make(chan struct{})
	t.Cleanup(func() { close(gate) })
	e := newEnvWith(t, func(c *record.Config) {
		c.Blobs = gatedBlobs{Store: c.Blobs, gate: gate}
		c.QueueBytes = 1 << 10 // smaller than any GOP
	})
	f := e.publish("cam-a")
	e.frames(f, 5*testGOP)
	testkit.WaitFor(t, 10*time.Second, "segments abandoned at each keyframe", func() error {
		if n := e.metric("vigil_record_failed_segments_total"); n < 3 {
			return fmt.Errorf("%v abandoned", n)
		}
		return nil
	})
	spans, err := e.lib.Timeline(t.Context(), e.owner("cam-a", "u-a"), access.StreamMain, time.Time{}, time.Now().Add(time.Hour))
	if err != nil || len(spans) != 0 {
		t.Fatalf("abandoned segments were filed: %v, %v", spans, err)
	}
}
