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
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"vigil/internal/access"
	"vigil/internal/blob"
	"vigil/internal/record"
	"vigil/internal/seal"
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

// statCounter counts the objects stat'ed and the objects read (opened:
// their header, last chunk or data read).
type statCounter struct {
	blob.Store
	stats   atomic.Int64
	mu      sync.Mutex
	read    map[string]bool // guarded by mu
	statted map[string]bool // guarded by mu
}

func (s *statCounter) Stat(ctx context.Context, key string) (blob.Info, error) {
	s.stats.Add(1)
	s.mu.Lock()
	if s.statted == nil {
		s.statted = map[string]bool{}
	}
	s.statted[key] = true
	s.mu.Unlock()
	return s.Store.Stat(ctx, key)
}

func (s *statCounter) Get(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	s.mu.Lock()
	if s.read == nil {
		s.read = map[string]bool{}
	}
	s.read[key] = true
	s.mu.Unlock()
	return s.Store.Get(ctx, key, off, n)
}

// reset forgets what was counted.
func (s *statCounter) reset() {
	s.stats.Store(0)
	s.mu.Lock()
	s.read, s.statted = nil, nil
	s.mu.Unlock()
}

// opened is the number of objects read since the last reset.
func (s *statCounter) opened() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.read)
}

// TestJoinRangeOpensWhatItTouches: a player reads a joined clip in many
// Range requests, each a Join of its own; once the span was joined, a
// request opens (reads from) and stats only the recordings its range
// touches, not every recording of the span, and reads the same bytes as
// the whole. With -v it logs what such a request costs.
func TestJoinRangeOpensWhatItTouches(t *testing.T) {
	_, spans, counted, join := countedJoin(t)
	file := readAll(t, join().File())
	counted.reset()
	j := join()
	mid := make([]byte, 4096)
	at := int64(len(file) / 2)
	if _, err := j.ReadAt(mid, at); err != nil || !bytes.Equal(mid, file[at:at+4096]) {
		t.Fatalf("a range in the middle differs from the whole (%v)", err)
	}
	if err := j.Egress(time.Now()); err != nil {
		t.Fatal(err)
	}
	if n := counted.opened(); n > 3 {
		t.Errorf("a 4 KiB range of a join of %d recordings opened %d of them; want the first and the one or two it touches", len(spans), n)
	}
	if n := counted.stats.Load(); n > 2 {
		t.Errorf("a 4 KiB range of a join of %d recordings stat'ed %d objects; want the one or two it touches", len(spans), n)
	}
	if testing.Verbose() {
		r := testing.Benchmark(func(b *testing.B) {
			for b.Loop() {
				if _, err := join().ReadAt(mid, at); err != nil {
					b.Fatal(err)
				}
			}
		})
		t.Logf("a join of %d recordings and a 4 KiB range from its middle: %s, %s", len(spans), r, r.MemString())
	}
}

// TestJoinRangeStatsOnlyWhatItTouches: once a span was joined, a Range
// request inside one recording of the span (not the first) stats and reads
// that recording's object and no other — before, every recording of the
// span was stat'ed on every request, up to 60 store round trips for an
// hour — and its bytes are the whole's.
func TestJoinRangeStatsOnlyWhatItTouches(t *testing.T) {
	e, spans, counted, join := countedJoin(t)
	file := readAll(t, join().File())
	k := len(spans) / 2
	at := spans[0].Fragments[0].Offset // the init segment, then each recording's fragments
	for _, s := range spans[:k] {
		at += s.Size - s.Fragments[0].Offset
	}
	at += (spans[k].Size - spans[k].Fragments[0].Offset) / 2
	row, err := e.st.Recording(t.Context(), spans[k].ID)
	if err != nil {
		t.Fatal(err)
	}
	counted.reset()
	mid := make([]byte, 1024)
	if _, err := join().ReadAt(mid, at); err != nil || !bytes.Equal(mid, file[at:at+int64(len(mid))]) {
		t.Fatalf("a range inside recording %d differs from the whole (%v)", k, err)
	}
	counted.mu.Lock()
	defer counted.mu.Unlock()
	if len(counted.statted) != 1 || !counted.statted[row.Object] {
		t.Errorf("a range inside recording %d of %d stat'ed %d objects (%v); want its own alone", k, len(spans), len(counted.statted), counted.statted)
	}
	if len(counted.read) != 1 || !counted.read[row.Object] {
		t.Errorf("a range inside recording %d of %d read %d objects; want its own alone", k, len(spans), len(counted.read))
	}
}

// countedJoin records 10 GOPs of cam-a (6 recordings or more) and joins
// their whole span through a Library whose store counts what is stat'ed
// and read.
func countedJoin(t *testing.T) (*env, []record.Span, *statCounter, func() *record.Joined) {
	t.Helper()
	e := newEnv(t)
	g, _ := e.recorded("cam-a", "u-a", 10)
	e.stop()
	spans := e.spans(g, 6)
	counted := &statCounter{Store: e.blobs}
	lib := &record.Library{Sealer: e.sealer, Blobs: counted, Index: e.st, Violations: e.violations}
	last := spans[len(spans)-1]
	from, to := spans[0].Start, last.Start.Add(last.Duration)
	return e, spans, counted, func() *record.Joined {
		j, err := lib.Join(t.Context(), g, access.StreamMain, from, to)
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
}

// TestJoinOpensLaterRecordingsUnderTheSeal: a recording of a join opened
// at its first read (its init segment remembered from an earlier join)
// is opened under the grant's key all the same: when its object was
// replaced by another camera's of the same size (which the join's check
// of sizes lets by), the read fails, is counted as an isolation violation,
// and yields none of its bytes.
func TestJoinOpensLaterRecordingsUnderTheSeal(t *testing.T) {
	e, jf := newJoinFixture(t)
	mid, err := e.st.Recording(t.Context(), jf.spans[2].ID)
	if err != nil {
		t.Fatal(err)
	}
	swapObject(t, e, jf.rowB.Object, mid.Object, 0)
	j, err := e.lib.Join(t.Context(), jf.g, access.StreamMain, jf.from, jf.to)
	if err != nil {
		t.Fatalf("the join, before reading the replaced recording: %v", err)
	}
	got, err := io.ReadAll(j.File())
	if !errors.Is(err, record.ErrIsolation) {
		t.Fatalf("reading the join across the replaced recording: %v, want ErrIsolation", err)
	}
	if len(got) >= len(jf.whole) || !bytes.Equal(got, jf.whole[:len(got)]) {
		t.Errorf("read %d bytes of %d, not the join's bytes up to the replaced recording", len(got), len(jf.whole))
	}
	if v := testutil.ToFloat64(e.violations); v != 1 {
		t.Errorf("violations = %v, want 1", v)
	}
}

// joinFixture is cam-a's recordings of 6 GOPs (4 or more), joined once
// over their whole span (whole), and the first recording of cam-b's.
type joinFixture struct {
	g        access.Grant
	spans    []record.Span
	from, to time.Time
	rowB     record.Recording
	whole    []byte
}

func newJoinFixture(t *testing.T) (*env, joinFixture) {
	t.Helper()
	e := newEnv(t)
	var jf joinFixture
	jf.g, _ = e.recorded("cam-a", "u-a", 6)
	_, jf.rowB = e.recorded("cam-b", "u-b", 2)
	e.stop()
	jf.spans = e.spans(jf.g, 4)
	last := jf.spans[len(jf.spans)-1]
	jf.from, jf.to = jf.spans[0].Start, last.Start.Add(last.Duration)
	j, err := e.lib.Join(t.Context(), jf.g, access.StreamMain, jf.from, jf.to)
	if err != nil {
		t.Fatal(err)
	}
	jf.whole = readAll(t, j.File())
	return e, jf
}

// swapObject replaces the object at to with the one at from, cut or padded
// with zeros to the size of the one it replaces plus extra.
func swapObject(t *testing.T, e *env, from, to string, extra int64) {
	t.Helper()
	fi, err := e.blobs.Stat(t.Context(), to)
	if err != nil {
		t.Fatal(err)
	}
	size := fi.Size + extra
	b := e.sealedObject(from)
	b = append(b, make([]byte, max(0, size-int64(len(b))))...)[:size]
	if err := e.blobs.Put(t.Context(), to, bytes.NewReader(b), size); err != nil {
		t.Fatal(err)
	}
}

// TestJoinRefusedBeforeItsFirstByte: once a span was joined (the
// recordings' init segments remembered, so later joins open only what
// they read), a later recording whose object went missing, was cut short
// or was replaced by another camera's of another size makes the next
// whole join of the span (Join, then Check) fail before its first byte —
// ErrDamaged, or ErrIsolation counted as a violation — instead of serving
// a file that is cut short where the recording should be.
func TestJoinRefusedBeforeItsFirstByte(t *testing.T) {
	e, jf := newJoinFixture(t)
	spans, rowB, whole := jf.spans, jf.rowB, jf.whole
	join := func() (*record.Joined, error) {
		j, err := e.lib.Join(t.Context(), jf.g, access.StreamMain, jf.from, jf.to)
		if err != nil {
			return nil, err
		}
		return j, j.Check(t.Context())
	}
	var err error
	rows := make([]record.Recording, len(spans))
	for i, s := range spans {
		if rows[i], err = e.st.Recording(t.Context(), s.ID); err != nil {
			t.Fatal(err)
		}
	}
	restore := func(i int) func() {
		b := e.sealedObject(rows[i].Object)
		return func() {
			if err := e.blobs.Put(t.Context(), rows[i].Object, bytes.NewReader(b), int64(len(b))); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, c := range []struct {
		name    string
		spoil   func(obj string)
		want    error
		counted float64
	}{
		{"missing", func(obj string) {
			if err := e.blobs.Delete(t.Context(), obj); err != nil {
				t.Fatal(err)
			}
		}, record.ErrDamaged, 0},
		{"cut short", func(obj string) { copyObject(t, e, obj, obj, 100) }, record.ErrDamaged, 0},
		{"another camera's", func(obj string) { swapObject(t, e, rowB.Object, obj, seal.SegmentChunk) }, record.ErrIsolation, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			i := len(spans) - 2
			undo := restore(i)
			defer undo()
			before := testutil.ToFloat64(e.violations)
			c.spoil(rows[i].Object)
			if _, err := join(); !errors.Is(err, c.want) {
				t.Fatalf("join over a recording %s: %v, want %v before any byte", c.name, err, c.want)
			}
			if v := testutil.ToFloat64(e.violations) - before; v != c.counted {
				t.Errorf("violations counted: %v, want %v", v, c.counted)
			}
		})
	}
	j, err := join()
	if err != nil {
		t.Fatalf("the join once every object is back: %v", err)
	}
	if got := readAll(t, j.File()); !bytes.Equal(got, whole) {
		t.Errorf("the join once every object is back reads %d bytes, not the %d it read before", len(got), len(whole))
	}
}
