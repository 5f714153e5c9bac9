package record_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"vigil/internal/access"
	"vigil/internal/blob"
	"vigil/internal/record"
	"vigil/internal/store"
)

// TestRetention, on a fake clock: no rule deletes nothing; a byte cap
// deletes the oldest recordings until the camera is under it; an age
// deletes those that ended before it; a camera that changed hands loses
// every recording of its earlier epoch whatever the rule; objects go with
// their rows, and a second sweep finds nothing left to do.
func TestRetention(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.recorded("cam-a", "u-a", 6)
	e.recorded("cam-b", "u-b", 2)
	e.stop() // every segment filed
	rowsA := e.rows("cam-a")
	if len(rowsA) < 3 { // a loaded machine's hub may skip GOPs for the recorder
		t.Fatalf("%d recordings of cam-a, want 3 or more", len(rowsA))
	}
	rowsB := e.rows("cam-b")
	var total int64
	for _, r := range rowsA {
		total += r.Size
	}
	rules := map[access.DeviceID]record.Rule{}
	now := rowsA[len(rowsA)-1].End().Add(time.Hour)
	deleted := prometheus.NewCounter(prometheus.CounterOpts{Name: "deleted"})
	ret := &record.Retention{Index: e.st, Blobs: e.blobs, Deleted: deleted,
		Devices: func(context.Context) ([]access.DeviceID, error) { return []access.DeviceID{"cam-a", "cam-b"}, nil },
		Rule:    func(_ context.Context, d access.DeviceID) (record.Rule, error) { return rules[d], nil },
		Now:     func() time.Time { return now },
	}
	sweep := func(want int) {
		t.Helper()
		if n, err := ret.Sweep(ctx); n != want || err != nil {
			t.Fatalf("swept %d, %v; want %d deleted", n, err, want)
		}
	}
	sweep(0)

	rules["cam-a"] = record.Rule{Bytes: total - rowsA[0].Size}
	sweep(1)
	e.gone(rowsA[0])
	if got := e.rows("cam-a"); !slices.EqualFunc(got, rowsA[1:], sameID) {
		t.Fatalf("after the byte cap: %d recordings, want all but the oldest", len(got))
	}

	rules["cam-a"] = record.Rule{Age: now.Sub(rowsA[2].End())} // cam-a's second recording ended before
	sweep(1)
	e.gone(rowsA[1])
	if got := e.rows("cam-a"); !slices.EqualFunc(got, rowsA[2:], sameID) {
		t.Fatalf("after the age rule: %d recordings, want %d", len(got), len(rowsA)-2)
	}

	if err := e.st.ResetDevice(ctx, "cam-b", "code-again"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.ClaimDevice(ctx, "code-again", "u-c"); err != nil {
		t.Fatal(err)
	}
	sweep(len(rowsB))
	for _, r := range rowsB {
		e.gone(r)
	}
	sweep(0)
	if got := testutil.ToFloat64(deleted); got != float64(2+len(rowsB)) {
		t.Errorf("deleted counter %v, want %d", got, 2+len(rowsB))
	}
}

func sameID(a, b record.Recording) bool { return a.ID == b.ID }

// rows lists every recording of dev, oldest first.
func (e *env) rows(dev access.DeviceID) []record.Recording {
	e.t.Helper()
	rows, err := e.st.OldestRecordings(e.t.Context(), dev, 1000)
	if err != nil {
		e.t.Fatal(err)
	}
	return rows
}

// gone checks that a recording's row and object are deleted.
func (e *env) gone(r record.Recording) {
	e.t.Helper()
	if _, err := e.st.Recording(e.t.Context(), r.ID); !errors.Is(err, store.ErrNotFound) {
		e.t.Errorf("recording %d's row: %v", r.ID, err)
	}
	if _, err := e.blobs.Stat(e.t.Context(), r.Object); !errors.Is(err, blob.ErrNotFound) {
		e.t.Errorf("recording %d's object: %v", r.ID, err)
	}
}
