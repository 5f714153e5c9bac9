package sqlite

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"vigil/internal/access"
	"vigil/internal/seal"
)

const camPassword = "Hik-Known-Pa55word"

func secrets(t *testing.T, fill byte) *seal.Secrets {
	t.Helper()
	s, err := seal.NewSecrets(bytes.Repeat([]byte{fill}, seal.MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// assertNotInFiles fails if any file of the database (main, WAL, SHM)
// holds s.
func assertNotInFiles(t *testing.T, path, s string) {
	t.Helper()
	for _, side := range []string{"", "-wal", "-shm"} {
		b, err := os.ReadFile(path + side)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(s)) {
			t.Errorf("%s holds the camera password in clear", filepath.Base(path+side))
		}
	}
}

// TestClearSourcesSealedOnOpen: a database written by an older Vigil (the
// source in clear) is sealed when opened with the secrets, and no copy of
// the clear text stays in the database file or its WAL.
func TestClearSourcesSealedOnOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.db")
	old := open(t, path)
	src := "rtsp://admin:" + camPassword + "@192.0.2.9/cam/realmonitor?channel=1&subtype=0"
	d := device("d-old", "old")
	if err := old.CreateDevice(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	if _, err := old.db.ExecContext(t.Context(), `UPDATE devices SET source = ? WHERE id = ?`, src, string(d.ID)); err != nil {
		t.Fatal(err)
	}
	old.Close()

	s, err := Open(t.Context(), path, WithSecrets(secrets(t, 1)))
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Device(t.Context(), d.ID)
	if err != nil || got.Source.Reveal() != src {
		t.Fatalf("after sealing: %q (%v)", got.Source.Reveal(), err)
	}
	var col string
	s.db.QueryRowContext(t.Context(), `SELECT source FROM devices WHERE id = ?`, string(d.ID)).Scan(&col)
	if !strings.HasPrefix(col, sealedPrefix) {
		t.Errorf("column holds %q, want it sealed", col)
	}
	s.Close()
	assertNotInFiles(t, path, camPassword)
}

// TestFilesPrivate: the database and its WAL are 0600, also when an older
// Vigil left the file readable by others.
func TestFilesPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.db")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s := open(t, path)
	if err := s.CreateDevice(t.Context(), device("d-mode", "m")); err != nil {
		t.Fatal(err)
	}
	for _, side := range []string{"", "-wal", "-shm"} {
		fi, err := os.Stat(path + side)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", filepath.Base(path+side), fi.Mode().Perm())
		}
	}
}

// TestBackupIsConsistentCopy: the copy opens and holds what was written.
func TestBackupIsConsistentCopy(t *testing.T) {
	dir := t.TempDir()
	s := open(t, filepath.Join(dir, "vigil.db"))
	if err := s.CreateDevice(t.Context(), device("d-copy", "copied")); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "copy.db")
	if err := s.Backup(t.Context(), dst); err != nil {
		t.Fatal(err)
	}
	c := open(t, dst)
	if d, err := c.Device(t.Context(), access.DeviceID("d-copy")); err != nil || d.Name != "copied" {
		t.Fatalf("copy: %+v, %v", d, err)
	}
}
