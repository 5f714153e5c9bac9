package hls

import (
	"errors"
	"fmt"
	"net/http"
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
