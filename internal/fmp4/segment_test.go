package fmp4

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	mfmp4 "github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"

	"vigil/internal/access"
	"vigil/internal/hub"
	"vigil/internal/media"
)

// TestSegmentOneFragmentPerGOP records three GOPs into a Segment and cuts it
// at the fourth keyframe: three fragments, each starting with a keyframe at
// the offset and time the Segment reports, lasting exactly three GOPs;
// ffprobe reads every frame, and the next segment starts at the cut.
func TestSegmentOneFragmentPerGOP(t *testing.T) {
	needFFmpeg(t)
	h := hub.New(hub.Config{})
	p := publish(t, h, "cam-seg", opusSource())
	p.frame()
	r, err := h.Read(grant("cam-seg"), access.StreamMain)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var file bytes.Buffer
	seg, err := NewSegment(&file, r.Tracks(), r.Egress)
	if err != nil {
		t.Fatal(err)
	}
	keys := 0
	var cut *media.Unit
	for cut == nil {
		for range 4 {
			p.frame()
		}
		for {
			u := nextOrNil(r)
			if u == nil {
				break
			}
			if u.Key && u.Track == 0 {
				if keys++; keys == 4 {
					cut = u
					break
				}
			}
			if err := seg.Push(u); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := seg.Cut(cut); err != nil {
		t.Fatal(err)
	}
	frags := seg.Fragments()
	if len(frags) != 3 {
		t.Fatalf("%d fragments, want 3 (one per GOP): %+v", len(frags), frags)
	}
	b := file.Bytes()
	if seg.Size() != int64(len(b)) {
		t.Fatalf("Size %d, wrote %d", seg.Size(), len(b))
	}
	for i, f := range frags {
		if string(b[f.Offset+4:f.Offset+8]) != "moof" || !f.Key {
			t.Fatalf("fragment %d at %d: box %q, key %v", i, f.Offset, b[f.Offset+4:f.Offset+8], f.Key)
		}
		if want := time.Duration(i*testGOP) * time.Second / testFPS; f.Time != want {
			t.Errorf("fragment %d at %v, want %v", i, f.Time, want)
		}
		var parts mfmp4.Parts
		end := int64(len(b))
		if i+1 < len(frags) {
			end = frags[i+1].Offset
		}
		if err := parts.Unmarshal(b[f.Offset:end]); err != nil || len(parts) != 1 {
			t.Fatalf("fragment %d: %d parts, %v", i, len(parts), err)
		}
		if n := len(parts[0].Tracks[0].Samples); n != testGOP {
			t.Errorf("fragment %d holds %d frames, want a GOP of %d", i, n, testGOP)
		}
	}
	if want := 3 * testGOP * time.Second / testFPS; seg.Duration() != want {
		t.Errorf("Duration %v, want %v", seg.Duration(), want)
	}
	path := filepath.Join(t.TempDir(), "seg.mp4")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := ffprobeLines(t, path, "packet=pts"); len(got) != 3*testGOP {
		t.Errorf("ffprobe reads %d frames, want %d", len(got), 3*testGOP)
	}

	var file2 bytes.Buffer
	seg2, err := NewSegment(&file2, r.Tracks(), r.Egress)
	if err != nil {
		t.Fatal(err)
	}
	if err := seg2.Push(cut); err != nil || !seg2.Started() {
		t.Fatalf("the next segment does not start at the cut keyframe: %v", err)
	}
}

func nextOrNil(r *hub.Reader) *media.Unit {
	ctx, cancel := contextWithTimeout(50 * time.Millisecond)
	defer cancel()
	u, _ := r.Next(ctx)
	return u
}

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
