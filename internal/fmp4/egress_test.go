package fmp4

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"vigil/internal/access"
	"vigil/internal/hub"
	"vigil/internal/media"
	"vigil/internal/testkit"
)

// TestEgressMismatchWritesNothing feeds the muxer of a cam-a reader a unit
// of cam-b: the fragment holding it must not be written at all, and the
// error must be the isolation check's.
func TestEgressMismatchWritesNothing(t *testing.T) {
	cases := []struct {
		name string
		// feed returns the units to push, in order; the foreign one is last
		// but one, so the last push is the one that writes it.
		feed func(a, b *units) []*media.Unit
		// before is the number of writes expected before the foreign unit's
		// fragment.
		before int
	}{
		{"foreign first keyframe", func(a, b *units) []*media.Unit { return []*media.Unit{b.video[0], a.video[1]} }, 0},
		{"foreign P frame", func(a, b *units) []*media.Unit { return []*media.Unit{a.video[0], b.video[1], a.video[1]} }, 1},
		{"foreign keyframe", func(a, b *units) []*media.Unit { return []*media.Unit{a.video[0], b.video[0], a.video[1]} }, 1},
		{"foreign audio", func(a, b *units) []*media.Unit {
			return []*media.Unit{a.video[0], a.video[1], b.audio[0], a.video[2]}
		}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := hub.New(hub.Config{Logger: slog.New(slog.DiscardHandler)})
			a, ra := readUnits(t, h, "cam-a")
			b, _ := readUnits(t, h, "cam-b")
			w := &countWriter{}
			m, err := newMuxer(ra.Tracks(), w, nil, ra.Egress)
			if err != nil {
				t.Fatal(err)
			}
			feed := tc.feed(a, b)
			for _, u := range feed[:len(feed)-1] {
				if err := m.push(u); err != nil {
					t.Fatalf("push before the foreign unit's fragment: %v", err)
				}
			}
			writes, n := w.state()
			if writes != tc.before {
				t.Fatalf("%d writes before the foreign unit's fragment, want %d", writes, tc.before)
			}
			err = m.push(feed[len(feed)-1])
			var mismatch *access.MismatchError
			if !errors.As(err, &mismatch) {
				t.Fatalf("push returned %v, want an isolation mismatch", err)
			}
			if writes2, n2 := w.state(); writes2 != writes || n2 != n {
				t.Fatalf("%d more bytes written after the mismatch", n2-n)
			}
			// cam-b's own NAL units (its stamp and picture, not the parameter
			// sets both cameras share) appear nowhere in the output.
			if foreign := feed[len(feed)-2]; foreign.Track == 0 {
				out := w.bytes()
				if bytes.Contains(out, foreign.Payload[0]) || bytes.Contains(out, foreign.Payload[len(foreign.Payload)-1]) {
					t.Fatal("cam-b's bytes are in the output")
				}
			}
			if v := testutil.ToFloat64(h.Metrics().Violations); v != 1 {
				t.Fatalf("violations counter %v, want 1", v)
			}
		})
	}
}

// TestStreamEndsWhenGrantExpires drives Stream itself: once the reader's
// egress check fails, Stream returns its error and writes nothing more.
func TestStreamEndsWhenGrantExpires(t *testing.T) {
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	h := hub.New(hub.Config{Now: func() time.Time { return time.Unix(0, clock.Load()) }})
	p := publish(t, h, "cam-a", nil)
	for range 5 {
		p.frame()
	}
	r, err := h.Read(grant("cam-a"), access.StreamMain)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	w := &countWriter{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Stream(ctx, w, nil, r) }()

	// Frames 0..3 are written; frame 4 waits for its successor.
	testkit.WaitFor(t, 5*time.Second, "first fragments written", func() error {
		if writes, _ := w.state(); writes != 4 {
			return fmt.Errorf("%d written, want 4", writes)
		}
		return nil
	})
	_, before := w.state()
	clock.Add(int64(2 * time.Hour))
	p.frame()
	select {
	case err := <-done:
		if !errors.Is(err, access.ErrGrantExpired) {
			t.Fatalf("Stream returned %v, want ErrGrantExpired", err)
		}
	case <-ctx.Done():
		t.Fatal("Stream did not end")
	}
	if _, after := w.state(); after != before {
		t.Fatalf("%d bytes written after the grant expired", after-before)
	}
}

// TestStreamReturnsWriteError: a failed write ends the stream.
func TestStreamReturnsWriteError(t *testing.T) {
	h := hub.New(hub.Config{})
	p := publish(t, h, "cam-a", nil)
	r, _ := h.Read(grant("cam-a"), access.StreamMain)
	defer r.Close()
	for range 3 {
		p.frame()
	}
	broken := errors.New("connection reset")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := Stream(ctx, writerFunc(func([]byte) (int, error) { return 0, broken }), nil, r)
	if !errors.Is(err, broken) {
		t.Fatalf("Stream returned %v, want the write error", err)
	}
}

// TestStreamWritesLastFrameWhenCameraLeaves: the held frame is written when
// the reader ends, and Stream returns the reader's reason.
func TestStreamWritesLastFrameWhenCameraLeaves(t *testing.T) {
	h := hub.New(hub.Config{})
	p := publish(t, h, "cam-a", nil)
	r, _ := h.Read(grant("cam-a"), access.StreamMain)
	defer r.Close()
	for range 3 {
		p.frame()
	}
	w := &countWriter{}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Stream(ctx, w, nil, r) }()
	testkit.WaitFor(t, 5*time.Second, "first fragments written", func() error {
		if writes, _ := w.state(); writes != 2 {
			return fmt.Errorf("%d written, want 2", writes)
		}
		return nil
	})
	p.Pub.Close()
	if err := <-done; !errors.Is(err, hub.ErrOffline) {
		t.Fatalf("Stream returned %v, want ErrOffline", err)
	}
	if writes, _ := w.state(); writes != 3 {
		t.Fatalf("%d fragments written, want all 3 frames", writes)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// units are what a reader of one camera received: its video and audio.
type units struct {
	video []*media.Unit
	audio []*media.Unit
}

// readUnits publishes three frames (with Opus audio) of a camera and
// returns them as a reader of that camera received them, with the reader.
func readUnits(t *testing.T, h *hub.Hub, id string) (*units, *hub.Reader) {
	t.Helper()
	p := publish(t, h, id, opusSource())
	r, err := h.Read(grant(access.DeviceID(id)), access.StreamMain)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	for range 3 {
		p.frame()
	}
	us := &units{}
	for len(us.video) < 3 {
		u := next(t, r)
		if u.Track == 0 {
			us.video = append(us.video, u)
		} else {
			us.audio = append(us.audio, u)
		}
	}
	return us, r
}
