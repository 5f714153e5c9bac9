package record_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"vigil/internal/access"
	"vigil/internal/blob"
	"vigil/internal/record"
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

// statCounter counts the objects stat'ed (one per recording opened).
type statCounter struct {
	blob.Store
	stats atomic.Int64
}

func (s *statCounter) Stat(ctx context.Context, key string) (blob.Info, error) {
	s.stats.Add(1)
	return s.Store.Stat(ctx, key)
}

// TestJoinRangeOpensWhatItTouches: a player reads a joined clip in many
// Range requests, each a Join of its own; once the span was joined, a
// request opens the first recording (its init segment) and the ones its
// range touches, not every recording of the span — and reads the same
// bytes as the whole. With -v it logs what such a request costs.
func TestJoinRangeOpensWhatItTouches(t *testing.T) {
	e := newEnv(t)
	g, _ := e.recorded("cam-a", "u-a", 10)
	e.stop()
	spans := e.spans(g, 8)
	counted := &statCounter{Store: e.blobs}
	lib := &record.Library{Sealer: e.sealer, Blobs: counted, Index: e.st, Violations: e.violations}
	last := spans[len(spans)-1]
	from, to := spans[0].Start, last.Start.Add(last.Duration)
	join := func() *record.Joined {
		j, err := lib.Join(t.Context(), g, access.StreamMain, from, to)
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	file := readAll(t, join().File())
	counted.stats.Store(0)
	j := join()
	mid := make([]byte, 4096)
	at := int64(len(file) / 2)
	if _, err := j.ReadAt(mid, at); err != nil || !bytes.Equal(mid, file[at:at+4096]) {
		t.Fatalf("a range in the middle differs from the whole (%v)", err)
	}
	if err := j.Egress(time.Now()); err != nil {
		t.Fatal(err)
	}
	if n := counted.stats.Load(); n > 3 {
		t.Errorf("a 4 KiB range of a join of %d recordings opened %d of them; want the first and the one or two it touches", len(spans), n)
	}
	if testing.Verbose() {
		r := testing.Benchmark(func(b *testing.B) {
			for b.Loop() {
				j, err := lib.Join(t.Context(), g, access.StreamMain, from, to)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := j.ReadAt(mid, at); err != nil {
					b.Fatal(err)
				}
			}
		})
		t.Logf("a join of %d recordings and a 4 KiB range from its middle: %s, %s", len(spans), r, r.MemString())
	}
}

// TestJoinOpensLaterRecordingsUnderTheSeal: a recording of a join opened
// at its first read (its init segment remembered from an earlier join)
// is opened under the grant's key all the same: when its object was
// replaced by another camera's, the read fails, is counted as an
// isolation violation, and yields none of its bytes.
func TestJoinOpensLaterRecordingsUnderTheSeal(t *testing.T) {
	e := newEnv(t)
	g, _ := e.recorded("cam-a", "u-a", 6)
	_, rowB := e.recorded("cam-b", "u-b", 2)
	e.stop()
	spans := e.spans(g, 4)
	last := spans[len(spans)-1]
	from, to := spans[0].Start, last.Start.Add(last.Duration)
	j, err := e.lib.Join(t.Context(), g, access.StreamMain, from, to)
	if err != nil {
		t.Fatal(err)
	}
	whole := readAll(t, j.File())
	mid, err := e.st.Recording(t.Context(), spans[2].ID)
	if err != nil {
		t.Fatal(err)
	}
	copyObject(t, e, rowB.Object, mid.Object, 0)
	if j, err = e.lib.Join(t.Context(), g, access.StreamMain, from, to); err != nil {
		t.Fatalf("the join, before reading the replaced recording: %v", err)
	}
	got, err := io.ReadAll(j.File())
	if !errors.Is(err, record.ErrIsolation) {
		t.Fatalf("reading the join across the replaced recording: %v, want ErrIsolation", err)
	}
	if len(got) >= len(whole) || !bytes.Equal(got, whole[:len(got)]) {
		t.Errorf("read %d bytes of %d, not the join's bytes up to the replaced recording", len(got), len(whole))
	}
	if v := testutil.ToFloat64(e.violations); v != 1 {
		t.Errorf("violations = %v, want 1", v)
	}
}
