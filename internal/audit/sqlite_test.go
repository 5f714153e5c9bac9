package audit_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/audit"
	"vigil/internal/store/sqlite"
)

// TestSessionsAreRecordedAtStartAndEnd writes through store/sqlite, which
// implements audit.Store.
func TestSessionsAreRecordedAtStartAndEnd(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "v.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
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
