package sqlite_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"vigil/internal/store"
	"vigil/internal/store/backend"
	"vigil/internal/store/sqlite"
	"vigil/internal/testkit/storetest"
)

// TestConformance runs the store conformance suite on SQLite.
func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Backend{
		New: func(t *testing.T) string { return filepath.Join(t.TempDir(), "vigil.db") },
		Open: func(ctx context.Context, path string, secrets store.Secrets) (backend.Store, error) {
			if secrets == nil {
				return sqlite.Open(ctx, path)
			}
			return sqlite.Open(ctx, path, sqlite.WithSecrets(secrets))
		},
		Holds: holds,
	})
}

// holds reports whether any file of the database (main, WAL, SHM) holds s.
func holds(t *testing.T, path, s string) bool {
	for _, side := range []string{"", "-wal", "-shm"} {
		b, err := os.ReadFile(path + side)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(s)) {
			return true
		}
	}
	return false
}
