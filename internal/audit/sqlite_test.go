package audit_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/audit"
	"vigil/internal/store/sqlite"
)

// TestSessionsAreRecordedAtStartAndEnd writes through store/sqlite, which
// implements audit.Store.
func TestSessionsAreRecordedAtStartAndEnd(t *testing.T) {
	st := openSQLite(t)
	r := audit.New(st, slog.Default())
	g := access.NewIssuer().Mint("u-vera", "cam-abc", access.AudienceGoogle, time.Hour)
	s, err := r.Start(g, "hls", "192.0.2.7:5000")
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := st.AccessOf(context.Background(), "cam-abc", time.Time{}, 10)
	if len(rows) != 1 || rows[0].Viewer != "u-vera" || rows[0].Output != "hls" || !rows[0].Ended.IsZero() ||
		rows[0].Audience != access.AudienceGoogle || rows[0].Remote != "192.0.2.7:5000" {
		t.Fatalf("at start: %+v", rows)
	}
	s.Add(1000)
	s.Add(234)
	s.End()
	s.Add(5)
	s.End() // once only
	rows, _ = st.AccessOf(context.Background(), "cam-abc", time.Time{}, 10)
	if rows[0].Bytes != 1234 || rows[0].Ended.IsZero() || rows[0].Ended.Before(rows[0].Started) {
		t.Fatalf("at end: %+v", rows[0])
	}
	if other, _ := st.AccessOf(context.Background(), "cam-zzz", time.Time{}, 10); len(other) != 0 {
		t.Fatalf("another camera's history holds %d rows", len(other))
	}
}

// TestCrowdIsRecordedThroughSQLite: 64 viewers starting and ending at once
// (grouped into a few transactions, see audit.Batcher) each get their own
// history row with their bytes, within the write timeout.
func TestCrowdIsRecordedThroughSQLite(t *testing.T) {
	st := openSQLite(t)
	r := audit.New(st, slog.Default())
	iss := access.NewIssuer()
	const n = 64
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			cam := access.DeviceID(fmt.Sprintf("cam-%03d", i))
			s, err := r.Start(iss.Mint("u-vera", cam, access.AudienceWeb, time.Hour), "mp4", "192.0.2.7:5000")
			if err != nil {
				t.Errorf("Start %s: %v", cam, err)
				return
			}
			s.Add(i + 1)
			s.End()
		})
	}
	wg.Wait()
	for i := range n {
		cam := access.DeviceID(fmt.Sprintf("cam-%03d", i))
		rows, err := st.AccessOf(context.Background(), cam, time.Time{}, 10)
		if err != nil || len(rows) != 1 || rows[0].Bytes != int64(i+1) || rows[0].Ended.IsZero() {
			t.Fatalf("history of %s: %+v, %v; want one ended row of %d bytes", cam, rows, err, i+1)
		}
	}
}

func openSQLite(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "v.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
