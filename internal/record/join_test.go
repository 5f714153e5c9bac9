package record_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"vigil/internal/access"
)

// ffprobeDTS lists the video packets' decode times ffprobe reads in an MP4.
func ffprobeDTS(t *testing.T, data []byte) []float64 {
	t.Helper()
	path := filepath.Join(t.TempDir(), "joined.mp4")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "packet=dts_time",
		"-of", "csv=p=0", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v: %s", err, out)
	}
	var dts []float64
	for _, l := range strings.Fields(string(out)) {
		v, err := strconv.ParseFloat(strings.TrimSuffix(l, ","), 64)
		if err != nil {
			t.Fatalf("ffprobe said %q", l)
		}
		dts = append(dts, v)
	}
	return dts
}

// TestJoinPlaysAcrossSegments: a camera's recordings of one session,
// joined over a span that crosses their boundaries, are one MP4 that
// ffprobe reads with every frame, decode times running on at the frame
// rate from zero; its size is what Size says, and a Range in the middle
// reads the same bytes as the whole.
func TestJoinPlaysAcrossSegments(t *testing.T) {
	needFFprobe(t)
	e := newEnv(t)
	g, _ := e.recorded("cam-a", "u-a", 6)
	e.stop()
	spans := e.spans(g, 3)
	if len(spans) < 3 {
		t.Fatalf("%d recordings", len(spans))
	}
	last := spans[len(spans)-1]
	from, to := spans[0].Start, last.Start.Add(last.Duration)
	j, err := e.lib.Join(t.Context(), g, access.StreamMain, from, to)
	if err != nil {
		t.Fatal(err)
	}
	file := readAll(t, j.File())
	if int64(len(file)) != j.Size() {
		t.Fatalf("read %d bytes, Size says %d", len(file), j.Size())
	}
	var want time.Duration
	for _, s := range spans {
		want += s.Duration
	}
	dts := ffprobeDTS(t, file)
	if n := int(want.Seconds()*testFPS + 0.5); len(dts) != n {
		t.Fatalf("ffprobe reads %d frames of %d recordings joined; they hold %d", len(dts), len(spans), n)
	}
	if dts[0] != 0 {
		t.Errorf("the first frame decodes at %v s, want 0", dts[0])
	}
	for i := 1; i < len(dts); i++ {
		if d := dts[i] - dts[i-1]; d < 0.039 || d > 0.041 {
			t.Fatalf("frame %d decodes %.4f s after the one before (at %v s): the boundaries are not joined", i, d, dts[i])
		}
	}
	if d := j.Duration - want; d < -time.Millisecond || d > time.Millisecond {
		t.Errorf("Duration %v, the recordings hold %v", j.Duration, want)
	}
	mid := make([]byte, 4096)
	if _, err := j.ReadAt(mid, int64(len(file)/2)); err != nil || string(mid) != string(file[len(file)/2:len(file)/2+4096]) {
		t.Fatalf("a read in the middle differs from the whole (%v)", err)
	}
}
