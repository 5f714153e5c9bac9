package fmp4

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"vigil/internal/access"
	"vigil/internal/hub"
	"vigil/internal/media"
	"vigil/internal/sim"
)

// TestStreamEncodedClips streams clips from a real encoder: H.264 with
// B-frames (decode order differs from presentation order) and H.265.
// ffmpeg must decode the output, with every picture at its presentation
// time, and only the camera's stamps in it.
func TestStreamEncodedClips(t *testing.T) {
	needFFmpeg(t)
	cases := []struct {
		name  string
		codec string // ffprobe's name
		clip  func(t *testing.T) ([]hub.UnitData, *media.Track, *sim.Checker)
	}{
		{"h264 b-frames", "h264", h264BFrames},
		{"h265", "hevc", h265Clip},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			units, track, checker := tc.clip(t)
			h := hub.New(hub.Config{})
			p, err := h.Publish("cam-a", access.StreamMain, []*media.Track{track})
			if err != nil {
				t.Fatal(err)
			}
			r, err := h.Read(grant("cam-a"), access.StreamMain)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			path := filepath.Join(t.TempDir(), "out.mp4")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			// Closing the publisher drops what the reader has not taken yet:
			// close it once every frame but the held last one was written.
			fragments := make(chan struct{}, len(units))
			done := make(chan error, 1)
			go func() { done <- Stream(ctx, f, func() { fragments <- struct{}{} }, r) }()
			for _, u := range units {
				if err := p.Write(0, u); err != nil {
					t.Fatal(err)
				}
			}
			for range len(units) - 1 {
				select {
				case <-fragments:
				case err := <-done:
					t.Fatalf("Stream returned early: %v", err)
				}
			}
			p.Close()
			if err := <-done; !errors.Is(err, hub.ErrOffline) {
				t.Fatalf("Stream returned %v, want ErrOffline once the clip ended", err)
			}

			checkProbe(t, path, []string{tc.codec})
			checkDecodes(t, path)
			var want []string
			for _, u := range units {
				want = append(want, strconv.FormatInt(media.DurationToClock(u.PTS-units[0].PTS, videoClockRate), 10))
			}
			got := ffprobeLines(t, path, "packet=pts")
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("presentation times %v, want %v", got, want)
			}

			// The samples as ffmpeg extracts them carry the camera's stamps, in order.
			out, err := exec.Command("ffmpeg", "-v", "error", "-i", path, "-c", "copy", "-f", tc.codec, "-").Output()
			if err != nil {
				t.Fatalf("ffmpeg copy: %v", err)
			}
			if err := checker.AnnexB(out); err != nil {
				t.Fatal(err)
			}
			if err := checker.Only("cam-a"); err != nil {
				t.Fatal(err)
			}
			if st := checker.Stats()["cam-a"]; st.Count != len(units) || st.Gaps+st.Reorders != 0 {
				t.Fatalf("stamps %+v, want %d in order", st, len(units))
			}
		})
	}
}

// h264BFrames encodes 50 frames with x264 (two B-frames) into Matroska,
// which keeps the presentation times, and returns its stamped access units
// in decode order.
func h264BFrames(t *testing.T) ([]hub.UnitData, *media.Track, *sim.Checker) {
	dir := t.TempDir()
	mkv := filepath.Join(dir, "clip.mkv")
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc=size=320x180:rate=25", "-frames:v", "50",
		"-c:v", "libx264", "-preset", "ultrafast", "-bf", "2", "-g", "25", "-pix_fmt", "yuv420p", mkv)
	pts := ffprobeLines(t, mkv, "packet=pts") // milliseconds, decode order
	annexb := filepath.Join(dir, "clip.h264")
	ffmpeg(t, "-i", mkv, "-c", "copy", "-f", "h264", annexb)
	b, err := os.ReadFile(annexb)
	if err != nil {
		t.Fatal(err)
	}
	aus := sim.SplitAccessUnits(sim.SplitAnnexB(b))
	if len(aus) != len(pts) {
		t.Fatalf("%d access units, %d timestamps", len(aus), len(pts))
	}
	key := sim.CameraKey(secret, "cam-a")
	var units []hub.UnitData
	reordered := false
	for i, au := range aus {
		ms, err := strconv.Atoi(pts[i])
		if err != nil {
			t.Fatal(err)
		}
		pts := time.Second + time.Duration(ms)*time.Millisecond
		reordered = reordered || i > 0 && pts < units[i-1].PTS
		isKey := slices.ContainsFunc(au, func(n []byte) bool { return n[0]&0x1f == 5 })
		stamp := sim.StampNALU(key, sim.Stamp{Camera: "cam-a", Seq: uint64(i + 1), Time: time.Now()})
		units = append(units, hub.UnitData{
			PTS: pts, Key: isKey, Payload: append([][]byte{stamp}, au...),
		})
	}
	if !units[0].Key || !reordered {
		t.Fatalf("the clip starts with an IDR: %v; has B-frames: %v; want both", units[0].Key, reordered)
	}
	return units, h264Track(), sim.NewChecker(sim.StaticKeys(secret))
}

// h265Clip encodes 50 frames with x265 (no B-frames, an AUD and the
// parameter sets in every keyframe) and returns its stamped access units.
func h265Clip(t *testing.T) ([]hub.UnitData, *media.Track, *sim.Checker) {
	path := filepath.Join(t.TempDir(), "clip.h265")
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc=size=320x180:rate=25", "-frames:v", "50",
		"-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "aud=1:repeat-headers=1:bframes=0:keyint=25:log-level=error",
		"-pix_fmt", "yuv420p", "-f", "hevc", path)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	key := sim.CameraKey(secret, "cam-a")
	var units []hub.UnitData
	for _, n := range sim.SplitAnnexB(b) {
		typ := (n[0] >> 1) & 0x3f
		if typ == 35 { // AUD: a new access unit, the stamp right after it
			seq := uint64(len(units) + 1)
			stamp := sim.StampNALUH265(key, sim.Stamp{Camera: "cam-a", Seq: seq, Time: time.Now()})
			pts := time.Second + time.Duration(len(units))*time.Second/testFPS
			units = append(units, hub.UnitData{PTS: pts, Payload: [][]byte{n, stamp}})
			continue
		}
		if len(units) == 0 {
			t.Fatal("the clip does not start with an AUD")
		}
		u := &units[len(units)-1]
		u.Payload = append(u.Payload, n)
		if typ >= 16 && typ <= 21 {
			u.Key = true
		}
	}
	if len(units) != 50 || !units[0].Key {
		t.Fatalf("%d access units, first key %v: want 50 from a keyframe", len(units), len(units) > 0 && units[0].Key)
	}
	track := &media.Track{Kind: media.Video, Format: &format.H265{PayloadTyp: 96}}
	return units, track, sim.NewCheckerH265(sim.StaticKeys(secret))
}

func ffmpeg(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command("ffmpeg", append([]string{"-v", "error", "-y"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg %v: %v: %s", args, err, out)
	}
}

// ffprobeLines returns one entry of the video stream per line.
func ffprobeLines(t *testing.T, path, entries string) []string {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", entries,
		"-of", "csv=p=0", path).Output()
	if err != nil {
		t.Fatalf("ffprobe: %v", err)
	}
	return strings.Fields(string(out))
}
