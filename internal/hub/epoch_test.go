package hub

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"vigil/internal/access"
)

// clockHub is a hub whose clock the test moves: unit n of frame(…) is
// captured at t0 + n*40ms when the test sets the clock before writing it.
type clockHub struct {
	*Hub
	now time.Time
}

func newClockHub() *clockHub {
	c := &clockHub{now: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
	c.Hub = New(Config{Now: func() time.Time { return c.now }, Metrics: NewMetrics(prometheus.NewRegistry())})
	return c
}

// frames writes frames from..to-1 (GOP gop), one clock tick of 40 ms each.
func (c *clockHub) frames(t *testing.T, p *Publisher, from, to, gop int) {
	t.Helper()
	for n := from; n < to; n++ {
		c.now = c.now.Add(40 * time.Millisecond)
		frame(t, p, n, gop)
	}
}

// since mints a grant for cam-a whose epoch is at.
func since(at time.Time) access.Grant {
	return issuer.MintLeased("u1", "cam-a", access.AudienceWeb, time.Hour, nil, at)
}

// TestJoinNeverReplaysBeforeTheEpoch: a reader whose grant began (a share
// created, a camera claimed) after the cached GOP's keyframe is not given
// that GOP; it starts at the first keyframe captured after its epoch, at
// once when the cache holds one.
func TestJoinNeverReplaysBeforeTheEpoch(t *testing.T) {
	c := newClockHub()
	p, _ := c.Publish("cam-a", access.StreamMain, tracks())
	c.frames(t, p, 0, 8, 5) // keyframes 0 and 5 cached (prev GOP and GOP)
	atFrame7 := c.now
	c.frames(t, p, 8, 13, 5) // keyframe 10 captured after the epoch

	for _, back := range []bool{false, true} {
		read := c.Read
		if back {
			read = c.ReadBack
		}
		r, err := read(since(atFrame7), access.StreamMain)
		if err != nil {
			t.Fatal(err)
		}
		u := next(t, r)
		if !u.Key || u.Payload[0][0] != 10 || u.Captured().Before(atFrame7) {
			t.Fatalf("back=%v: first unit is frame %d key=%v captured %v, want keyframe 10 after the epoch %v",
				back, u.Payload[0][0], u.Key, u.Captured(), atFrame7)
		}
		r.Close()
	}

	// An epoch after the cached keyframe: nothing cached is the reader's,
	// it waits for the next keyframe (15), then gets only later units.
	epoch := c.now
	r, err := c.Read(since(epoch), access.StreamMain)
	if err != nil {
		t.Fatal(err)
	}
	if kf, err := c.Keyframe(since(epoch), access.StreamMain); !errors.Is(err, ErrOffline) {
		t.Fatalf("Keyframe for a grant younger than the cached keyframe: %+v, %v; want ErrOffline", kf.Unit, err)
	}
	c.frames(t, p, 13, 17, 5)
	u := next(t, r)
	if !u.Key || u.Payload[0][0] != 15 {
		t.Fatalf("first unit after a late epoch: frame %d key=%v, want keyframe 15", u.Payload[0][0], u.Key)
	}
	for range 3 { // frame 15's audio, frame 16 and its audio
		if u := next(t, r); u.Captured().Before(epoch) {
			t.Fatalf("unit captured %v, before the epoch %v", u.Captured(), epoch)
		}
	}
	if kf, err := c.Keyframe(since(epoch), access.StreamMain); err != nil || kf.Unit.Payload[0][0] != 15 ||
		!kf.Captured.Equal(kf.Unit.Captured()) {
		t.Fatalf("Keyframe after the epoch: %v, %v", kf.Unit, err)
	}
	if v := testutil.ToFloat64(c.cfg.Metrics.Violations); v != 0 {
		t.Fatalf("violations = %v: a reader was handed pre-epoch units and refused them", v)
	}
}

// TestEgressRefusesUnitsCapturedBeforeTheEpoch: a unit of the right device
// but captured before the grant's epoch is an isolation violation, as a
// unit of another device is: refused, counted, the reader ended.
func TestEgressRefusesUnitsCapturedBeforeTheEpoch(t *testing.T) {
	c := newClockHub()
	p, _ := c.Publish("cam-a", access.StreamMain, tracks())
	c.frames(t, p, 0, 3, 5)
	old := next(t, mustRead(t, c.Hub, grant("cam-a")))
	r := mustRead(t, c.Hub, since(c.now))
	err := r.Egress(old)
	if !errors.Is(err, access.ErrBeforeEpoch) {
		t.Fatalf("pre-epoch unit at egress: %v, want ErrBeforeEpoch", err)
	}
	if v := testutil.ToFloat64(c.cfg.Metrics.Violations); v != 1 {
		t.Fatalf("violations = %v, want 1", v)
	}
	if _, err := r.Next(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("reader after violation: %v, want ErrClosed", err)
	}
	if err := c.Egress(since(c.now), old); !errors.Is(err, access.ErrBeforeEpoch) {
		t.Fatalf("Hub.Egress of a pre-epoch unit: %v", err)
	}
}

func mustRead(t *testing.T, h *Hub, g access.Grant) *Reader {
	t.Helper()
	r, err := h.Read(g, access.StreamMain)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestHandoverDropsEverythingOfTheCamera: a camera that changes hands
// keeps no session, GOP or reader; another camera is untouched.
func TestHandoverDropsEverythingOfTheCamera(t *testing.T) {
	c := newClockHub()
	pa, _ := c.Publish("cam-a", access.StreamMain, tracks())
	ps, _ := c.Publish("cam-a", access.StreamSub, tracks())
	pb, _ := c.Publish("cam-b", access.StreamMain, tracks())
	c.frames(t, pa, 0, 7, 5)
	c.frames(t, ps, 0, 7, 5)
	c.frames(t, pb, 0, 7, 5)
	ra := mustRead(t, c.Hub, grant("cam-a"))
	rb := mustRead(t, c.Hub, grant("cam-b"))

	c.Handover("cam-a")

	if c.Online("cam-a", access.StreamMain) || c.Online("cam-a", access.StreamSub) {
		t.Fatal("cam-a still online after its handover")
	}
	for _, p := range []*Publisher{pa, ps} {
		if err := p.Write(0, UnitData{Key: true, Payload: [][]byte{{1}}}); !errors.Is(err, ErrHandover) ||
			!errors.Is(err, ErrReplaced) {
			t.Fatalf("write after handover: %v, want ErrHandover (an ErrReplaced, so ingest drops the session)", err)
		}
	}
	if _, err := ra.Next(context.Background()); !errors.Is(err, ErrHandover) {
		t.Fatalf("reader after handover: %v, want ErrHandover", err)
	}
	if u := next(t, rb); u.Owner().Device != "cam-b" || !c.Online("cam-b", access.StreamMain) {
		t.Fatal("another camera's stream was touched by cam-a's handover")
	}
	// The camera reconnects into a new session: nothing of the old one.
	pa2, _ := c.Publish("cam-a", access.StreamMain, tracks())
	r := mustRead(t, c.Hub, grant("cam-a"))
	if _, err := c.Keyframe(grant("cam-a"), access.StreamMain); !errors.Is(err, ErrOffline) {
		t.Fatalf("keyframe of the old session after handover: %v", err)
	}
	c.frames(t, pa2, 100, 101, 5)
	if u := next(t, r); u.Owner().Session != pa2.Owner().Session || u.Payload[0][0] != 100 {
		t.Fatalf("first unit after handover: session %d frame %d", u.Owner().Session, u.Payload[0][0])
	}
}
