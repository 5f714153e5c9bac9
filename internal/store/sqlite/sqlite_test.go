package sqlite

import (
	"path/filepath"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/auth"
	"vigil/internal/store"
)

func open(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func device(id, name string) store.Device {
	return store.Device{
		ID:         access.DeviceID(id),
		Name:       name,
		Credential: auth.HashCredential(id, "pw-"+id),
		CreatedAt:  time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC),
		// A device's first epoch starts when it is created.
		EpochStarted: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC),
	}
}

func TestPragmas(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "vigil.db"))
	tests := []struct{ pragma, want string }{
		{"journal_mode", "wal"},
		{"synchronous", "2"}, // FULL
		{"foreign_keys", "1"},
		{"busy_timeout", "5000"},
	}
	for _, tt := range tests {
		t.Run(tt.pragma, func(t *testing.T) {
			var got string
			if err := s.db.QueryRowContext(t.Context(), "PRAGMA "+tt.pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("PRAGMA %s = %q, want %q", tt.pragma, got, tt.want)
			}
		})
	}
}

func TestMigrationsIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.db")
	ms, err := migrations()
	if err != nil || len(ms) == 0 {
		t.Fatalf("migrations() = %v, %v", ms, err)
	}
	for i := range 3 {
		s, err := Open(t.Context(), path)
		if err != nil {
			t.Fatalf("open #%d: %v", i, err)
		}
		var n, maxV int
		if err := s.db.QueryRow(`SELECT COUNT(*), MAX(version) FROM migrations`).Scan(&n, &maxV); err != nil {
			t.Fatal(err)
		}
		if n != len(ms) || maxV != ms[len(ms)-1].Version {
			t.Errorf("open #%d: %d migrations up to %d, want %d up to %d", i, n, maxV, len(ms), ms[len(ms)-1].Version)
		}
		s.Close()
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.db")
	s := open(t, path)
	if _, err := s.db.Exec(`INSERT INTO migrations VALUES (9999, 'future', 0)`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(t.Context(), path); err == nil {
		t.Fatal("Open of a newer schema succeeded")
	}
}
