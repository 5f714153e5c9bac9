package sim

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLoadClip(t *testing.T) {
	for _, tc := range []struct {
		path          string
		units, keys   int
		width, height int
	}{
		{"testdata/clips/small-320x240.h264", 250, 5, 320, 240},
		{"testdata/clips/bench-1920x1080-4mbps.h264", 150, 3, 1920, 1080},
	} {
		t.Run(filepath.Base(tc.path), func(t *testing.T) {
			units, err := LoadClip(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			keys := 0
			for i, u := range units {
				if u.Key {
					keys++
				}
				vcl := 0
				for _, n := range u.NALUs {
					if typ := naluType(n); typ == naluIDR || typ == naluNonIDR {
						vcl++
					}
				}
				if vcl == 0 {
					t.Fatalf("unit %d has no slice", i)
				}
			}
			if len(units) != tc.units || keys != tc.keys || !units[0].Key {
				t.Fatalf("%d units, %d keys (first key %v); want %d, %d", len(units), keys, units[0].Key, tc.units, tc.keys)
			}
		})
	}
	dir := t.TempDir()
	noIDR := filepath.Join(dir, "p.h264")
	if err := os.WriteFile(noIDR, AnnexB([][]byte{{0x41, 0x9a}}), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadClip(noIDR); err == nil {
		t.Fatal("LoadClip accepted a clip without IDR")
	}
	if _, err := LoadClip(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("LoadClip accepted a missing file")
	}
}

// TestClipStampedFFmpeg: a clip with our stamps inserted still decodes
// cleanly in ffmpeg, frame for frame.
func TestClipStampedFFmpeg(t *testing.T) {
	t.Parallel()
	units, err := LoadClip("testdata/clips/small-320x240.h264")
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for i, u := range units {
		st := StampNALU(testKey("clip"), Stamp{"clip", uint64(i + 1), time.Unix(0, 0)})
		out = append(out, AnnexB(withStamp(u.NALUs, st))...)
	}
	path := filepath.Join(t.TempDir(), "s.h264")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	crc := ffmpeg(t, "-i", path, "-f", "framecrc", "-")
	if n := bytes.Count(crc, []byte("\n0,")); n != len(units) {
		t.Fatalf("ffmpeg decoded %d frames, want %d", n, len(units))
	}
	c := NewChecker(testKeys)
	if err := c.AnnexB(out); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats()["clip"]; st.Count != len(units) || c.Unstamped() != 0 || st.Gaps != 0 {
		t.Fatalf("checker %+v unstamped %d", st, c.Unstamped())
	}
}
