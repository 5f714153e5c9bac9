package datadir

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestSecondLockRefusedNamingHolder: a second Acquire (another open file,
// as a second server would have) fails with the holder's pid; after
// Release it succeeds.
func TestSecondLockRefusedNamingHolder(t *testing.T) {
	dir := t.TempDir()
	l, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Acquire(dir)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("second lock: %v, want ErrLocked naming pid %d", err, os.Getpid())
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	l2, err := Acquire(dir)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	l2.Release()
}

func TestPrepareMakesPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "d")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Prepare(dir); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(dir)
	if fi.Mode().Perm() != 0o700 {
		t.Fatalf("mode %04o, want 0700", fi.Mode().Perm())
	}
}

func TestCheckEmpty(t *testing.T) {
	dir := t.TempDir()
	if err := CheckEmpty(filepath.Join(dir, "missing")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, LockFile), nil, 0o600)
	if err := CheckEmpty(dir); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, DBFile), nil, 0o600)
	if err := CheckEmpty(dir); !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("got %v, want ErrNotEmpty", err)
	}
}
