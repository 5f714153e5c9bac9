package hub

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"vigil/internal/access"
	"vigil/internal/media"
)

var issuer = access.NewIssuer()

func tracks() []*media.Track {
	return []*media.Track{
		{Kind: media.Video, Format: &format.H264{PayloadTyp: 96, PacketizationMode: 1}},
		{Kind: media.Audio, Format: &format.G711{PayloadTyp: 0, MULaw: true, SampleRate: 8000, ChannelCount: 1}},
	}
}

func grant(d access.DeviceID) access.Grant {
	return issuer.Mint("u1", d, access.AudienceRTSP, time.Hour)
}

// frame writes video frame n of a GOP of gop frames, plus an audio unit.
func frame(t *testing.T, p *Publisher, n, gop int) {
	t.Helper()
	pts := time.Duration(n) * 40 * time.Millisecond
	if err := p.Write(0, UnitData{PTS: pts, Key: n%gop == 0, Payload: [][]byte{{byte(n)}}}); err != nil {
		t.Fatal(err)
	}
	if err := p.Write(1, UnitData{PTS: pts, Payload: [][]byte{{0xff}}}); err != nil {
		t.Fatal(err)
	}
}

func next(t *testing.T, r *Reader) *media.Unit {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	u, err := r.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestJoinStartsAtCachedKeyframe(t *testing.T) {
	for _, joinAt := range []int{1, 5, 10, 13, 19} {
		h := New(Config{})
		p, _ := h.Publish("cam-a", access.StreamMain, tracks())
		for n := range joinAt {
			frame(t, p, n, 10)
		}
		r, err := h.Read(grant("cam-a"), access.StreamMain)
		if err != nil {
			t.Fatal(err)
		}
		first := next(t, r)
		keyAt := (joinAt - 1) / 10 * 10
		if !first.Key || first.Track != 0 || first.Payload[0][0] != byte(keyAt) {
			t.Fatalf("join after %d frames: first unit key=%v track=%d frame=%d, want keyframe %d",
				joinAt, first.Key, first.Track, first.Payload[0][0], keyAt)
		}
		// The rest of the GOP follows in order, then live units.
		last := first.PTS
		frame(t, p, joinAt, 10)
		for range (joinAt-keyAt)*2 - 1 + 2 - 1 {
			u := next(t, r)
			if u.PTS < last {
				t.Fatalf("timestamps went back: %v after %v", u.PTS, last)
			}
			last = u.PTS
		}
		if last != time.Duration(joinAt)*40*time.Millisecond {
			t.Fatalf("last pts %v, want the live frame's", last)
		}
	}
}

func TestReaderWithoutCacheWaitsForKeyframe(t *testing.T) {
	h := New(Config{})
	p, _ := h.Publish("cam-a", access.StreamMain, tracks())
	r, _ := h.Read(grant("cam-a"), access.StreamMain)
	frame(t, p, 0, 4)
	if u := next(t, r); !u.Key {
		t.Fatal("first unit is not a keyframe")
	}
	h2 := New(Config{})
	p2, _ := h2.Publish("cam-a", access.StreamMain, tracks())
	frame(t, p2, 1, 4) // not a keyframe, nothing cached
	r2, _ := h2.Read(grant("cam-a"), access.StreamMain)
	frame(t, p2, 2, 4)
	frame(t, p2, 4, 4)
	if u := next(t, r2); !u.Key || u.Payload[0][0] != 4 {
		t.Fatalf("first unit: key=%v frame=%d, want keyframe 4", u.Key, u.Payload[0][0])
	}
}

func TestSlowReaderSkipsWithoutBlockingOthers(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := New(Config{ReaderQueueUnits: 8, Metrics: NewMetrics(reg)})
	p, _ := h.Publish("cam-a", access.StreamMain, tracks())
	frame(t, p, 0, 10)
	slow, _ := h.Read(grant("cam-a"), access.StreamMain)
	fast, _ := h.Read(grant("cam-a"), access.StreamMain)
	got := 0
	for n := 1; n < 100; n++ {
		frame(t, p, n, 10) // never blocks although slow reads nothing
		for range 2 {
			next(t, fast)
			got++
		}
	}
	if got != 198 {
		t.Fatalf("fast reader got %d units", got)
	}
	if slow.Skips() == 0 {
		t.Fatal("slow reader did not skip")
	}
	if v := testutil.ToFloat64(h.cfg.Metrics.Skips.WithLabelValues("cam-a", "main")); v != float64(slow.Skips()) {
		t.Fatalf("skip metric %v, reader skips %d", v, slow.Skips())
	}
	// After a skip the slow reader resumes at a keyframe.
	frame(t, p, 100, 10)
	if u := next(t, slow); !u.Key {
		t.Fatal("slow reader resumed without a keyframe")
	}
	slow.mu.Lock()
	n := len(slow.q)
	slow.mu.Unlock()
	if n > 8 {
		t.Fatalf("queue holds %d units, bound is 8", n)
	}
}

func TestReplacedPublisherNeverMixes(t *testing.T) {
	h := New(Config{})
	old, _ := h.Publish("cam-a", access.StreamMain, tracks())
	frame(t, old, 0, 10)
	r, _ := h.Read(grant("cam-a"), access.StreamMain)
	next(t, r)
	next(t, r)
	nw, _ := h.Publish("cam-a", access.StreamMain, tracks())
	if err := old.Write(0, UnitData{Key: true, Payload: [][]byte{{1}}}); !errors.Is(err, ErrReplaced) {
		t.Fatalf("old publisher write: %v, want ErrReplaced", err)
	}
	frame(t, nw, 0, 10)
	if _, err := r.Next(context.Background()); !errors.Is(err, ErrReplaced) {
		t.Fatalf("old reader: %v, want ErrReplaced", err)
	}
	r2, _ := h.Read(grant("cam-a"), access.StreamMain)
	if u := next(t, r2); u.Owner() != nw.Owner() {
		t.Fatalf("new reader got %+v, want %+v", u.Owner(), nw.Owner())
	}
	// Closing the replaced publisher must not take the new one offline.
	old.Close()
	if !h.Online("cam-a", access.StreamMain) {
		t.Fatal("closing the old session took the camera offline")
	}
}

func TestReadNeedsGrantForTheDevice(t *testing.T) {
	h := New(Config{})
	h.Publish("cam-a", access.StreamMain, tracks())
	if _, err := h.Read(access.Grant{}, access.StreamMain); !errors.Is(err, access.ErrNoGrant) {
		t.Fatalf("zero grant: %v", err)
	}
	if _, err := h.Read(grant("cam-b"), access.StreamMain); !errors.Is(err, ErrOffline) {
		t.Fatalf("grant for another camera: %v, want ErrOffline (it reads cam-b, which is offline)", err)
	}
	expired := issuer.Mint("u1", "cam-a", access.AudienceRTSP, -time.Second)
	if _, err := h.Read(expired, access.StreamMain); !errors.Is(err, access.ErrGrantExpired) {
		t.Fatalf("expired grant: %v", err)
	}
}

func TestEgressMismatchFailsClosed(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := New(Config{Metrics: NewMetrics(reg)})
	pa, _ := h.Publish("cam-a", access.StreamMain, tracks())
	pb, _ := h.Publish("cam-b", access.StreamMain, tracks())
	frame(t, pa, 0, 10)
	frame(t, pb, 0, 10)
	ra, _ := h.Read(grant("cam-a"), access.StreamMain)
	rb, _ := h.Read(grant("cam-b"), access.StreamMain)
	ua := next(t, ra)
	if err := ra.Egress(ua); err != nil {
		t.Fatalf("own unit refused: %v", err)
	}
	ub := next(t, rb)
	var mm *access.MismatchError
	if err := ra.Egress(ub); !errors.As(err, &mm) {
		t.Fatalf("foreign unit: %v, want a MismatchError", err)
	}
	if v := testutil.ToFloat64(h.cfg.Metrics.Violations); v != 1 {
		t.Fatalf("violations = %v, want 1", v)
	}
	if _, err := ra.Next(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("reader after violation: %v, want ErrClosed", err)
	}
}

func TestReaderFallingBehindLiveSkips(t *testing.T) {
	h := New(Config{})
	p, _ := h.Publish("cam-a", access.StreamMain, tracks())
	r, _ := h.Read(grant("cam-a"), access.StreamMain)
	// A 1 s GOP at 25 fps; the reader reads nothing for 5 s of media.
	for n := range 126 {
		frame(t, p, n, 25)
	}
	if r.Skips() == 0 {
		t.Fatal("a reader 5 s behind live (GOP 1 s) did not skip")
	}
	// It resumes at a keyframe less than maxLag behind the newest unit.
	u := next(t, r)
	if !u.Key || 125*40*time.Millisecond-u.PTS > 4*time.Second {
		t.Fatalf("resumed at key=%v pts=%v", u.Key, u.PTS)
	}
}

func TestKeyframeForStillsAndHubEgress(t *testing.T) {
	h := New(Config{})
	pa, _ := h.Publish("cam-a", access.StreamMain, tracks())
	pb, _ := h.Publish("cam-b", access.StreamMain, tracks())
	if _, err := h.Keyframe(grant("cam-a"), access.StreamMain); !errors.Is(err, ErrOffline) {
		t.Fatalf("no keyframe yet: %v", err)
	}
	for n := range 7 {
		frame(t, pa, n, 5)
		frame(t, pb, n, 5)
	}
	kf, err := h.Keyframe(grant("cam-a"), access.StreamMain)
	u := kf.Unit
	if err != nil || !u.Key || u.Payload[0][0] != 5 || len(kf.Tracks) != 2 || u.Owner().Device != "cam-a" ||
		kf.Captured.IsZero() {
		t.Fatalf("keyframe: %v %+v", err, u)
	}
	if u.Seq != 11 { // units 1..10 were frames 0..4 with audio; frame 5 is unit 11
		t.Fatalf("seq %d, want 11", u.Seq)
	}
	kb, _ := h.Keyframe(grant("cam-b"), access.StreamMain)
	var mm *access.MismatchError
	if err := h.Egress(grant("cam-a"), kb.Unit); !errors.As(err, &mm) {
		t.Fatalf("foreign still passed egress: %v", err)
	}
	if v := testutil.ToFloat64(h.cfg.Metrics.Violations); v != 1 {
		t.Fatalf("violations = %v", v)
	}
}

func TestRevokedLeaseEndsReadersAtOnce(t *testing.T) {
	h := New(Config{})
	p, _ := h.Publish("cam-a", access.StreamMain, tracks())
	frame(t, p, 0, 10)
	lease := access.NewLease()
	g := issuer.MintLeased("u1", "cam-a", access.AudienceWeb, time.Hour, lease, time.Time{})
	r, err := h.Read(g, access.StreamMain)
	if err != nil {
		t.Fatal(err)
	}
	next(t, r)
	next(t, r)
	done := make(chan error, 1)
	go func() { _, err := r.Next(context.Background()); done <- err }()
	start := time.Now()
	lease.Revoke()
	select {
	case err := <-done:
		if !errors.Is(err, access.ErrGrantRevoked) {
			t.Fatalf("Next after revoke: %v", err)
		}
	case <-time.After(time.Second):
		t.Fatal("reader still waiting 1 s after its lease was revoked")
	}
	t.Logf("reader ended %v after the revocation", time.Since(start))
	if _, err := h.Read(g, access.StreamMain); !errors.Is(err, access.ErrGrantRevoked) {
		t.Fatalf("read with a revoked grant: %v", err)
	}
}

func TestReadBackStartsOneGOPEarlier(t *testing.T) {
	h := New(Config{})
	p, _ := h.Publish("cam-a", access.StreamMain, tracks())
	for n := range 25 {
		frame(t, p, n, 10)
	}
	r, err := h.ReadBack(grant("cam-a"), access.StreamMain)
	if err != nil {
		t.Fatal(err)
	}
	if u := next(t, r); !u.Key || u.Payload[0][0] != 10 {
		t.Fatalf("ReadBack starts at frame %d (key %v), want keyframe 10", u.Payload[0][0], u.Key)
	}
	// Then every unit in order up to the newest: no gap at the GOP boundary.
	want := 10
	for range 2*15 - 1 {
		u := next(t, r)
		if u.Track == 0 {
			want++
			if int(u.Payload[0][0]) != want {
				t.Fatalf("frame %d after %d", u.Payload[0][0], want-1)
			}
		}
	}
	if r2, _ := h.Read(grant("cam-a"), access.StreamMain); next(t, r2).Payload[0][0] != 20 {
		t.Fatal("Read no longer starts at the latest keyframe")
	}
}

// TestGOPCacheGaugeCountsBothGOPs: vigil_gop_cache_bytes reports what the
// cache holds, the previous GOP (kept for ReadBack) with the current one.
func TestGOPCacheGaugeCountsBothGOPs(t *testing.T) {
	h := New(Config{})
	p, _ := h.Publish("cam-a", access.StreamMain, tracks())
	for n := range 15 {
		frame(t, p, n, 10) // one byte of video and one of audio each
	}
	g := h.Metrics().GOPBytes.WithLabelValues("cam-a", string(access.StreamMain))
	if got := testutil.ToFloat64(g); got != 20+10 {
		t.Fatalf("vigil_gop_cache_bytes = %v, want 30 (previous GOP 20, current 10)", got)
	}
	p.Close()
	if got := testutil.ToFloat64(g); got != 0 {
		t.Fatalf("vigil_gop_cache_bytes = %v after the camera left, want 0", got)
	}
}
