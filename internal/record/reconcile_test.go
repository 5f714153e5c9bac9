package record_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"vigil/internal/access"
	"vigil/internal/blob"
	"vigil/internal/record"
	"vigil/internal/seal"
	"vigil/internal/store"
)

// reconcile runs a second recorder's Reconcile over e's store and blobs,
// as a restarted process would before it records.
func (e *env) reconcile() record.Reconciled {
	e.t.Helper()
	cfg := e.cfg
	cfg.Registerer = prometheus.NewRegistry()
	r, err := record.New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	n, err := r.Reconcile(e.t.Context())
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// sealedObject reads a stored object whole.
func (e *env) sealedObject(key string) []byte {
	e.t.Helper()
	rc, err := e.blobs.Get(e.t.Context(), key, 0, -1)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// TestReconcileAfterCrash: what a kill -9 can leave is repaired at start.
// A partial object (the sealed chunks a Put had written) is cut to its
// whole fragments, which play (ffprobe) and read back as the recorder
// wrote them; an object without a row is indexed as it was; a row without
// an object is dropped; an object of an earlier epoch, which nobody can
// open, is deleted.
func TestReconcileAfterCrash(t *testing.T) {
	needFFprobe(t)
	e := newEnvWith(t, func(c *record.Config) { c.SegmentDuration = time.Minute })
	ctx := t.Context()
	g, row := e.recorded("cam-a", "u-a", 8)
	sealed := e.sealedObject(row.Object)
	if len(row.Fragments) < 5 { // a loaded machine's hub may skip GOPs for the recorder
		t.Fatalf("%d fragments recorded, want 8 or so (5 at least)", len(row.Fragments))
	}
	plain := e.read(g, row.ID)

	// An object without its row: indexed as it was.
	if err := e.st.DeleteRecording(ctx, row.ID); err != nil {
		t.Fatal(err)
	}
	if n := e.reconcile(); n != (record.Reconciled{Indexed: 1}) {
		t.Fatalf("object without a row: reconciled %+v", n)
	}
	again := e.only(g)
	if again.Size != row.Size || again.Duration != row.Duration || !slices.Equal(again.Fragments, row.Fragments) ||
		!again.Start.Equal(row.Start) || !again.Epoch.Equal(row.Epoch) {
		t.Fatalf("indexed again as %+v, was %+v", again, row)
	}

	// A Put killed while it wrote the fourth fragment, inside a chunk: the
	// fragments that end in the whole chunks before it are kept.
	if err := e.st.DeleteRecording(ctx, again.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.blobs.Delete(ctx, row.Object); err != nil {
		t.Fatal(err)
	}
	whole := row.Fragments[3].Offset / seal.SegmentChunk
	cut := seal.SegmentHeader + whole*(seal.SegmentChunk+16) + 1000
	partial := filepath.Join(e.blobDir, filepath.FromSlash(filepath.Dir(row.Object)), ".put-"+filepath.Base(row.Object)+"-4242")
	if err := os.WriteFile(partial, sealed[:cut], 0o600); err != nil {
		t.Fatal(err)
	}
	if n := e.reconcile(); n != (record.Reconciled{Salvaged: 1}) {
		t.Fatalf("partial object: reconciled %+v", n)
	}
	if _, err := os.Stat(partial); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the partial is still there: %v", err)
	}
	salvaged := e.only(g)
	keep := 0
	for i := range row.Fragments {
		end := row.Size
		if i+1 < len(row.Fragments) {
			end = row.Fragments[i+1].Offset
		}
		if end <= whole*seal.SegmentChunk {
			keep = i + 1
		}
	}
	if keep == 0 || !slices.Equal(salvaged.Fragments, row.Fragments[:keep]) || salvaged.Size > whole*seal.SegmentChunk ||
		salvaged.Duration <= 0 || salvaged.Duration >= row.Duration {
		t.Fatalf("salvaged %d fragments, %d bytes, %v; want the first %d of %d, at most %d bytes", len(salvaged.Fragments),
			salvaged.Size, salvaged.Duration, keep, len(row.Fragments), whole*seal.SegmentChunk)
	}
	file := e.read(g, salvaged.ID)
	if !slices.Equal(file, plain[:salvaged.Size]) {
		t.Fatal("the salvaged file is not the start of the recorded one")
	}
	if n, want := ffprobeFrames(t, file), int(salvaged.Duration*testFPS/time.Second); n != want {
		t.Errorf("ffprobe reads %d frames of the salvaged file, its duration %v holds %d", n, salvaged.Duration, want)
	}

	// A row without an object, and an object of cam-b's earlier epoch.
	_, rowB := e.recorded("cam-b", "u-b", 2)
	if err := e.st.DeleteRecording(ctx, rowB.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.st.ResetDevice(ctx, "cam-b", "code-again"); err != nil {
		t.Fatal(err)
	}
	if err := e.blobs.Delete(ctx, salvaged.Object); err != nil {
		t.Fatal(err)
	}
	if n := e.reconcile(); n != (record.Reconciled{RowsDropped: 1, Deleted: 1}) {
		t.Fatalf("row without object and old epoch's object: reconciled %+v", n)
	}
	if _, err := e.st.Recording(ctx, salvaged.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the row without an object: %v", err)
	}
	if _, err := e.blobs.Stat(ctx, rowB.Object); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("the earlier epoch's object: %v", err)
	}
	if n := e.reconcile(); n != (record.Reconciled{}) {
		t.Fatalf("a second pass reconciled %+v", n)
	}
}

// only returns the one recording of g's camera.
func (e *env) only(g access.Grant) record.Recording {
	e.t.Helper()
	rows, err := e.st.OldestRecordings(e.t.Context(), g.Device(), 10)
	if err != nil || len(rows) != 1 {
		e.t.Fatalf("%d recordings, %v; want one", len(rows), err)
	}
	return rows[0]
}

// read returns a recording's file as the library serves it to g.
func (e *env) read(g access.Grant, id int64) []byte {
	e.t.Helper()
	clip, err := e.lib.Open(e.t.Context(), g, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return readAll(e.t, clip.File())
}

// indexedElsewhere is an index where another process (a node reconciling
// a shared store at its start) files every segment just before its
// recorder does.
type indexedElsewhere struct{ record.Index }

func (x indexedElsewhere) AddRecording(ctx context.Context, r record.Recording) (int64, error) {
	if _, err := x.Index.AddRecording(ctx, r); err != nil {
		return 0, err
	}
	return x.Index.AddRecording(ctx, r)
}

// TestSegmentIndexedElsewhereIsKept: a segment whose row another process
// added first keeps its object (the recorder deletes an object only when
// its row cannot be added), and plays.
func TestSegmentIndexedElsewhereIsKept(t *testing.T) {
	e := newEnvWith(t, func(c *record.Config) { c.Index = indexedElsewhere{c.Index} })
	g, row := e.recorded("cam-a", "u-a", 2)
	e.stop()
	if _, err := e.blobs.Stat(t.Context(), row.Object); err != nil {
		t.Fatalf("the object indexed elsewhere: %v", err)
	}
	if file := e.read(g, row.ID); int64(len(file)) != row.Size {
		t.Fatalf("read %d bytes, row says %d", len(file), row.Size)
	}
	if got := e.metric("vigil_record_failed_segments_total"); got != 0 {
		t.Errorf("%v segments counted lost", got)
	}
}

// busyIndex refuses a segment's row the first times it is added, as a
// store whose write slot stays taken under load does.
type busyIndex struct {
	record.Index
	refusals *atomic.Int32
}

func (x busyIndex) AddRecording(ctx context.Context, r record.Recording) (int64, error) {
	if x.refusals.Add(-1) >= 0 {
		return 0, errors.New("store busy: a write waited too long for its turn")
	}
	return x.Index.AddRecording(ctx, r)
}

// TestBusyIndexLosesNoSegment: a segment whose row the index refuses for a
// moment is filed once it takes it, not deleted as lost.
func TestBusyIndexLosesNoSegment(t *testing.T) {
	refusals := new(atomic.Int32)
	refusals.Store(3)
	e := newEnvWith(t, func(c *record.Config) { c.Index = busyIndex{c.Index, refusals} })
	g, row := e.recorded("cam-a", "u-a", 2)
	if file := e.read(g, row.ID); int64(len(file)) != row.Size {
		t.Fatalf("read %d bytes, row says %d", len(file), row.Size)
	}
	e.stop()
	if got := e.metric("vigil_record_failed_segments_total"); got != 0 {
		t.Errorf("%v segments counted lost", got)
	}
	if got := e.metric("vigil_record_index_retries_total"); got < 3 {
		t.Errorf("%v index retries counted, want at least 3", got)
	}
}
