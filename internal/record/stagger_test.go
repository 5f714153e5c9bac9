package record

import (
	"fmt"
	"hash/maphash"
	"testing"
	"time"

	"vigil/internal/access"
)

// TestStaggeredFirstCut: cameras cut their first segment at different
// points between half and one and a half segment lengths, so that their
// segments do not all close (and fsync) at once; a stream's point is fixed.
func TestStaggeredFirstCut(t *testing.T) {
	r := &Recorder{cfg: Config{SegmentDuration: time.Minute}}
	r.seed = maphash.MakeSeed()
	seen := map[time.Duration]bool{}
	var lo, hi time.Duration = time.Hour, 0
	for i := range 200 {
		tg := Target{Device: access.DeviceID(fmt.Sprintf("cam-%03d", i)), Stream: access.StreamMain}
		d := r.stagger(tg)
		if d < 30*time.Second || d >= 90*time.Second {
			t.Fatalf("%s cuts its first segment at %v, outside [30s, 90s)", tg.Device, d)
		}
		if r.stagger(tg) != d {
			t.Fatalf("%s's first cut moves", tg.Device)
		}
		seen[d.Truncate(time.Second)] = true
		lo, hi = min(lo, d), max(hi, d)
	}
	if len(seen) < 40 || hi-lo < 50*time.Second {
		t.Fatalf("200 cameras' first cuts fall on %d distinct seconds within %v-%v: not spread", len(seen), lo, hi)
	}
}
