package hls

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"vigil/internal/access"
	"vigil/internal/testkit"
)

// since mints a grant for cam-a whose epoch is at.
func since(at time.Time) access.Grant {
	return issuer.MintLeased("u-sharee", "cam-a", access.AudienceWeb, time.Hour, nil, at)
}

// TestYoungEpochGetsItsOwnMuxer: a holder whose share (or claim) is younger
// than the shared muxer's oldest unit is not served from it — it holds
// segments captured before the epoch — but from a muxer of its own that
// starts at the first keyframe after the epoch; holders with older epochs
// keep sharing. Handover drops them all.
func TestYoungEpochGetsItsOwnMuxer(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	publish(t, f.h, "cam-a", access.StreamMain, 320, 240, nil)
	time.Sleep(1200 * time.Millisecond) // a whole GOP cached behind the current one
	if code, _ := get(t, f.url("/g/cam-a/main/ts/index.m3u8")); code != http.StatusOK {
		t.Fatalf("owner's playlist: %d", code)
	}
	key := muxerKey{device: "cam-a", stream: access.StreamMain, variant: VariantTS}
	shared := muxerOf(f.m, key)
	if shared == nil {
		t.Fatal("no shared muxer")
	}

	if x, err := f.m.muxer(since(time.Now().Add(-time.Hour)), key, false); err != nil || x != shared {
		t.Fatalf("a share older than the muxer: %v, %v; want the shared muxer", x, err)
	}
	epoch := time.Now()
	young := since(epoch)
	x, err := f.m.muxer(young, key, true)
	if err != nil {
		t.Fatal(err)
	}
	if x == shared || x.key.since != epoch.UnixNano() {
		t.Fatalf("a share younger than the muxer got muxer %+v (shared: %v)", x.key, x == shared)
	}
	if rec, err := f.serveRecorded(t, young, access.StreamMain, VariantTS, "index.m3u8"); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("young share's playlist: %v %d %s", err, rec.Code, rec.Body)
	}
	if !x.first.Key || x.first.Captured().Before(epoch) {
		t.Fatalf("young share's muxer starts with key=%v captured %v, before its epoch %v", x.first.Key,
			x.first.Captured(), epoch)
	}
	if !shared.first.Captured().Before(epoch) {
		t.Fatal("test broken: the shared muxer holds nothing older than the young epoch")
	}
	if v := testutil.ToFloat64(f.h.Metrics().Violations); v != 0 {
		t.Fatalf("violations = %v", v)
	}

	f.m.Handover("cam-a")
	if muxerOf(f.m, key) != nil || muxerOf(f.m, x.key) != nil {
		t.Fatal("muxers of the camera survived its handover")
	}
	testkit.WaitFor(t, 5*time.Second, "stop of the camera's muxers", func() error {
		if !shared.stopped() || !x.stopped() {
			return fmt.Errorf("shared muxer stopped: %v, sharee's: %v", shared.stopped(), x.stopped())
		}
		return nil
	})
	if _, err := f.m.muxer(grant("cam-a"), key, false); !errors.Is(err, ErrNoFile) {
		t.Fatalf("segment request after handover: %v, want ErrNoFile (404)", err)
	}
}

// TestYoungEpochMultivariantWaits: a holder whose epoch is younger than
// every cached keyframe (a share made a moment ago) is not refused with a
// 503 while the camera is online: its multivariant playlist waits for the
// next keyframes and lists both streams, as the owner's does. A request
// that gives up first ends the wait with its context's error, and an
// offline camera answers ErrOffline without waiting.
func TestYoungEpochMultivariantWaits(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	publish(t, f.h, "cam-a", access.StreamMain, 320, 240, nil)
	publish(t, f.h, "cam-a", access.StreamSub, 160, 120, nil)
	streams := []access.StreamID{access.StreamMain, access.StreamSub}
	serve := func(ctx context.Context, g access.Grant) (*httptest.ResponseRecorder, error) {
		rec := httptest.NewRecorder()
		gw := &guard{ResponseWriter: rec}
		err := f.m.Multivariant(gw, httptest.NewRequestWithContext(ctx, http.MethodGet, "/x?token=T", nil), g, streams, VariantFMP4)
		if err != nil && !gw.untouched() {
			t.Errorf("Multivariant wrote to the response and returned %v", err)
		}
		return rec, err
	}

	young := since(time.Now())
	rec, err := serve(t.Context(), young)
	if err != nil {
		t.Fatalf("a new sharee's multivariant playlist: %v, want 200", err)
	}
	pl, err := parseMultivariant(rec.Body.Bytes())
	if err != nil || len(pl.variants) != 2 {
		t.Fatalf("a new sharee's multivariant playlist lists %d streams (%v), want main and sub:\n%s",
			len(pl.variants), err, rec.Body.Bytes())
	}

	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := serve(ctx, since(time.Now())); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a request that gave up while waiting: %v, want its context's error", err)
	}

	start := time.Now()
	if err := f.m.Multivariant(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/x", nil),
		grant("cam-b"), streams, VariantFMP4); !errors.Is(err, ErrOffline) {
		t.Errorf("an offline camera: %v, want ErrOffline", err)
	}
	if d := time.Since(start); d > describeWait/2 {
		t.Errorf("an offline camera's playlist took %v: it must not wait", d)
	}
}
