package record_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"vigil/internal/access"
	"vigil/internal/record"
	"vigil/internal/seal"
	"vigil/internal/testkit"
)

func needFFprobe(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("ffprobe"); err != nil {
		t.Fatal("ffprobe is missing: run `make test`, which installs it")
	}
}

// ffprobeFrames counts the video frames ffprobe reads in an MP4 file.
func ffprobeFrames(t *testing.T, data []byte) int {
	t.Helper()
	path := filepath.Join(t.TempDir(), "clip.mp4")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v", "-count_frames",
		"-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v: %s", err, out)
	}
	var n int
	if _, err := fmt.Sscan(strings.TrimSpace(string(out)), &n); err != nil {
		t.Fatalf("ffprobe said %q", out)
	}
	return n
}

func readAll(t *testing.T, r io.ReadSeeker) []byte {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRecordsSegmentsThatPlay: a camera's stream is cut into segments at
// keyframes (five keyframes, one a second, with one-second segments: at
// least three segments are cut), each row's fragments start with a
// keyframe's moof where the row says, and every segment plays in ffprobe
// with all its frames.
func TestRecordsSegmentsThatPlay(t *testing.T) {
	needFFprobe(t)
	e := newEnv(t)
	f := e.publish("cam-a")
	e.frames(f, 4*testGOP) // frames 0 to 100: keyframes at 0, 25, 50, 75 and 100
	g := e.owner("cam-a", "u-a")
	spans := e.spans(g, 3)[:3] // cut, so whole, whatever the recorder's lag
	frames := 0
	for i, sp := range spans {
		clip, err := e.lib.Open(t.Context(), g, sp.ID)
		if err != nil {
			t.Fatalf("span %d: %v", i, err)
		}
		rec := clip.Recording()
		file := readAll(t, clip.File())
		if int64(len(file)) != rec.Size || len(rec.Fragments) == 0 {
			t.Fatalf("span %d: %d bytes, row says %d; %d fragments", i, len(file), rec.Size, len(rec.Fragments))
		}
		for _, fr := range rec.Fragments {
			if string(file[fr.Offset+4:fr.Offset+8]) != "moof" || !fr.Key {
				t.Fatalf("span %d: fragment at %d is %q, key %v", i, fr.Offset, file[fr.Offset+4:fr.Offset+8], fr.Key)
			}
		}
		if i > 0 && sp.Start.Before(spans[i-1].Start.Add(0)) {
			t.Errorf("span %d starts before span %d", i, i-1)
		}
		n := ffprobeFrames(t, file)
		if want := int(rec.Duration * testFPS / time.Second); n != want {
			t.Errorf("span %d: ffprobe reads %d frames, its duration %v holds %d", i, n, rec.Duration, want)
		}
		frames += n
	}
	if frames < 3*testGOP || frames > 4*testGOP {
		t.Errorf("the first three segments hold %d frames, want 3 or 4 whole GOPs", frames)
	}
	if got := testutil.ToFloat64(e.violations); got != 0 {
		t.Errorf("%v violations", got)
	}
}

// TestRangeOpensOnlyItsChunks: a read in the middle of a recording returns
// the exact bytes of the file and opens only the chunks it touches.
func TestRangeOpensOnlyItsChunks(t *testing.T) {
	e := newEnv(t)
	g, row := e.recorded("cam-a", "u-a", 3)
	whole, err := e.lib.Open(t.Context(), g, row.ID)
	if err != nil {
		t.Fatal(err)
	}
	file := readAll(t, whole.File())
	if len(file) < 3*seal.SegmentChunk {
		t.Fatalf("a recording of %d bytes is too small for this test", len(file))
	}
	clip, err := e.lib.Open(t.Context(), g, row.ID)
	if err != nil {
		t.Fatal(err)
	}
	r := clip.File()
	off := int64(2*seal.SegmentChunk - 10)
	if _, err := r.Seek(off, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 20)
	if _, err := io.ReadFull(r, buf); err != nil || !bytes.Equal(buf, file[off:off+20]) {
		t.Fatalf("read in the middle: %v, or not the file's bytes", err)
	}
	if n := clip.ChunksOpened(); n != 3 {
		t.Errorf("open and a read across chunks 1 and 2 opened %d chunks, want 3 (with the last)", n)
	}
}

// TestSwappedObjectIsAViolation: a row of camera A that names camera B's
// object does not open under A's key; it is counted and nothing is served.
// B's grant cannot open A's row at all.
func TestSwappedObjectIsAViolation(t *testing.T) {
	e := newEnv(t)
	ga, rowA := e.recorded("cam-a", "u-a", 2)
	gb, rowB := e.recorded("cam-b", "u-b", 2)
	ctx := t.Context()
	// A's row, pointing at B's object (a copy, as a mixed-up index would).
	swapped := rowA
	swapped.Object = "rec/cam-a/main/swapped.seg"
	swapped.Size = rowB.Size
	copyObject(t, e, rowB.Object, swapped.Object, 0)
	id, err := e.st.AddRecording(ctx, swapped)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.lib.Open(ctx, ga, id); !errors.Is(err, record.ErrIsolation) {
		t.Fatalf("opening A's row naming B's object: %v, want ErrIsolation", err)
	}
	if got := testutil.ToFloat64(e.violations); got != 1 {
		t.Fatalf("violations = %v, want 1", got)
	}
	// A's row pointing at B's object of another size than the row says,
	// as a key that two cameras share leaves it: not mere damage.
	mixed := rowA
	mixed.Object = "rec/cam-a/main/mixed.seg"
	mixed.Size = rowB.Size + 1000
	copyObject(t, e, rowB.Object, mixed.Object, 0)
	if id, err = e.st.AddRecording(ctx, mixed); err != nil {
		t.Fatal(err)
	}
	if _, err := e.lib.Open(ctx, ga, id); !errors.Is(err, record.ErrIsolation) {
		t.Fatalf("opening A's row naming B's object of another size: %v, want ErrIsolation", err)
	}
	if got := testutil.ToFloat64(e.violations); got != 2 {
		t.Fatalf("violations = %v, want 2", got)
	}
	if _, err := e.lib.Open(ctx, gb, rowA.ID); !errors.Is(err, record.ErrNotFound) {
		t.Fatalf("B's owner opening A's recording: %v, want ErrNotFound", err)
	}
}

// TestTruncatedObjectIsNotServed: an object cut short (inside its last
// chunk, or at a chunk boundary) is not served, whether its row says the
// old length or one made to match the cut; it is damage (its first chunk
// opens under the row's key), not another camera's object.
func TestTruncatedObjectIsNotServed(t *testing.T) {
	e := newEnv(t)
	g, row := e.recorded("cam-a", "u-a", 3)
	chunks := (row.Size + seal.SegmentChunk - 1) / seal.SegmentChunk
	if chunks < 2 {
		t.Fatalf("a recording of %d bytes is too small for this test", row.Size)
	}
	boundary := (chunks - 1) * seal.SegmentChunk // plaintext before the last chunk
	for i, c := range []struct{ cut, plain int64 }{
		{1, row.Size - 1},
		{seal.SealedSize(row.Size) - seal.SealedSize(boundary), boundary},
	} {
		for j, size := range []int64{row.Size, c.plain} {
			bad := row
			bad.Object = fmt.Sprintf("rec/cam-a/main/cut-%d-%d.seg", i, j)
			bad.Size = size
			copyObject(t, e, row.Object, bad.Object, c.cut)
			id, err := e.st.AddRecording(t.Context(), bad)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.lib.Open(t.Context(), g, id); err == nil {
				t.Errorf("object cut by %d bytes, row saying %d bytes: opened", c.cut, size)
			} else if !errors.Is(err, record.ErrDamaged) {
				t.Errorf("object cut by %d bytes, row saying %d bytes: %v, want ErrDamaged", c.cut, size, err)
			}
		}
	}
}

// copyObject copies an object, less its last cut bytes.
func copyObject(t *testing.T, e *env, from, to string, cut int64) {
	t.Helper()
	rc, err := e.blobs.Get(t.Context(), from, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	b = b[:int64(len(b))-cut]
	if err := e.blobs.Put(context.Background(), to, bytes.NewReader(b), int64(len(b))); err != nil {
		t.Fatal(err)
	}
}

// TestNewOwnerSeesNothingBefore: after a release and a new claim, the new
// owner lists and opens nothing recorded before the claim, and the old
// footage does not open even with its row restored under the new epoch
// (its epoch secret is gone); what is recorded after the claim is theirs.
func TestNewOwnerSeesNothingBefore(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	f := e.publish("cam-a")
	e.frames(f, 2*testGOP)
	f.Pub.Close()
	old := e.spans(e.owner("cam-a", "u-a"), 1)
	testkit.WaitFor(t, 5*time.Second, "the recorder lets go", func() error {
		if e.rec.Streams() > 0 {
			return errors.New("still recording")
		}
		return nil
	})
	oldRow, err := e.st.Recording(ctx, old[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.ResetDevice(ctx, "cam-a", "code-2"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.ClaimDevice(ctx, "code-2", "u-c"); err != nil {
		t.Fatal(err)
	}
	e.hub.Handover("cam-a")
	gc := e.owner("cam-a", "u-c")
	spans, err := e.lib.Timeline(ctx, gc, access.StreamMain, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil || len(spans) != 0 {
		t.Fatalf("the new owner lists %v, %v; want nothing", spans, err)
	}
	// Even a grant without an epoch (an operator's) finds nothing of the
	// old epoch: it is filed under the old one.
	if _, err := e.lib.Open(ctx, issuer.Mint("admin", "cam-a", access.AudienceWeb, time.Hour), old[0].ID); !errors.Is(err, record.ErrNotFound) {
		t.Fatalf("opening an old epoch's recording: %v, want ErrNotFound", err)
	}
	// Its row restored as if it were the new epoch's (with its own start,
	// or one after the claim): the key is gone.
	d, _ := e.st.Device(ctx, "cam-a")
	forged := map[int64]bool{}
	for i, start := range []time.Time{oldRow.Start, d.EpochStarted.Add(time.Millisecond)} {
		restored := oldRow
		restored.Epoch, restored.Start = d.EpochStarted, start
		restored.Object = fmt.Sprintf("rec/cam-a/main/restored-%d.seg", i)
		copyObject(t, e, oldRow.Object, restored.Object, 0)
		id, err := e.st.AddRecording(ctx, restored)
		if err != nil {
			t.Fatal(err)
		}
		forged[id] = true
		if _, err := e.lib.Open(ctx, issuer.Mint("admin", "cam-a", access.AudienceWeb, time.Hour), id); err == nil {
			t.Fatal("the old epoch's footage opened under a restored row")
		}
	}
	// What the camera records now is the new owner's.
	f = e.publish("cam-a")
	e.frames(f, 2*testGOP)
	f.Pub.Close()
	spans = e.spans(gc, 2)
	for _, sp := range spans {
		if forged[sp.ID] {
			continue
		}
		if sp.Start.Before(d.EpochStarted) {
			t.Errorf("the new owner lists a span from %v, before the claim at %v", sp.Start, d.EpochStarted)
		}
		if _, err := e.lib.Open(ctx, gc, sp.ID); err != nil {
			t.Errorf("the new owner cannot open their recording: %v", err)
		}
	}
}

// TestSpanIsWholeGOPsOfTheFile: a span of a recording is its init segment
// and the fragments from the last keyframe at or before its start to the
// first fragment at or after its end, byte for byte, and it plays.
func TestSpanIsWholeGOPsOfTheFile(t *testing.T) {
	needFFprobe(t)
	e := newEnvWith(t, func(c *record.Config) { c.SegmentDuration = time.Hour })
	g, row := e.recorded("cam-a", "u-a", 4)
	if len(row.Fragments) < 4 {
		t.Fatalf("%d fragments, want 4 or more", len(row.Fragments))
	}
	clip, err := e.lib.Open(t.Context(), g, row.ID)
	if err != nil {
		t.Fatal(err)
	}
	file := readAll(t, clip.File())
	fr := row.Fragments
	span := readAll(t, clip.Span(fr[1].Time+fr[1].Time/2, fr[2].Time+time.Millisecond))
	want := append(bytes.Clone(file[:fr[0].Offset]), file[fr[1].Offset:fr[3].Offset]...)
	if !bytes.Equal(span, want) {
		t.Fatalf("span of %d bytes is not the init segment and fragments 1 and 2 (%d bytes)", len(span), len(want))
	}
	if n := ffprobeFrames(t, span); n != 2*testGOP {
		t.Fatalf("ffprobe reads %d frames of the span, want %d", n, 2*testGOP)
	}
}
