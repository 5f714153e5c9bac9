// Package datadir owns the data directory as a whole: its layout (which
// file holds what), its permissions and the lock that keeps a second
// server off it. It knows nothing of what the files contain.
package datadir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// File names inside the data directory.
const (
	DBFile        = "vigil.db"
	MasterKeyFile = "master.key"
	LockFile      = "vigil.lock"
	StillsDir     = "stills"
	RecordingsDir = "recordings"
	CertsDir      = "certs"
)

// Prepare creates dir with mode 0700, or takes group and other
// permissions away from an existing one.
func Prepare(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data directory %s: %w; set data_dir (or VIGIL_DATA_DIR) to a writable directory", dir, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("data directory %s: %w", dir, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("data directory %s: make it private: %w; run `chmod 700 %s`", dir, err, dir)
		}
	}
	return nil
}

// Lock is a held data-directory lock: an exclusive flock on vigil.lock,
// which holds the holder's pid. The kernel drops it when the process
// ends, however it ends, so a crash never leaves a stale lock.
type Lock struct {
	f *os.File
}

// Acquire takes dir's lock for this process. If another process holds it,
// the error wraps ErrLocked and names that process's pid.
func Acquire(dir string) (*Lock, error) {
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock data directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is locked by vigil pid %s; stop that server first, or give this one another data_dir",
				ErrLocked, dir, holder(path))
		}
		return nil, fmt.Errorf("lock data directory %s: %w", dir, err)
	}
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock data directory %s: write pid: %w", dir, err)
	}
	return &Lock{f: f}, nil
}

// holder reads the pid the lock's holder wrote.
func holder(path string) string {
	b, err := os.ReadFile(path)
	if pid := strings.TrimSpace(string(b)); err == nil && pid != "" {
		return pid
	}
	return "(unknown)"
}

// Release drops the lock. The pid stays in the file; only the flock counts.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// CheckEmpty returns an error wrapping ErrNotEmpty if dir holds anything
// but an unheld lock file. A missing dir is empty.
func CheckEmpty(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("data directory %s: %w", dir, err)
	}
	for _, e := range entries {
		if e.Name() != LockFile {
			return fmt.Errorf("%w: %s holds %s; restore into a new, empty directory", ErrNotEmpty, dir, e.Name())
		}
	}
	return nil
}
