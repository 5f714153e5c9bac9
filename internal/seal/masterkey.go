// Package seal owns the process's master key and the per-device AEAD
// sealing built on it (keys derived with HKDF per device and ownership
// epoch; device, stream and sequence as associated data) for everything
// cached outside the heap.
//
// It must not log or return key material anywhere but to its caller.
package seal

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"vigil/internal/datadir"
)

// MasterKeySize is the length of the master key in bytes.
const MasterKeySize = 32

// LoadOrCreateMasterKey returns the master key stored at path, creating it
// with MasterKeySize random bytes and mode 0600 if the file does not exist.
//
// Creation is atomic: the key is written and synced to a temporary file,
// hard-linked to path (which, unlike rename, never replaces a key another
// process created meanwhile) and the directory is synced. An existing file
// readable by group or others, or of the wrong length, is refused rather
// than used or replaced, since replacing it would lose all sealed data.
func LoadOrCreateMasterKey(path string) ([]byte, error) {
	key, err := loadMasterKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	if err := createMasterKey(path); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	return loadMasterKey(path)
}

func loadMasterKey(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("master key %s is not a regular file; move it away and restore the key file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("master key %s has mode %04o, readable by others; run `chmod 600 %s`", path, perm, path)
	}
	key, err := io.ReadAll(io.LimitReader(f, MasterKeySize+1))
	if err != nil {
		return nil, fmt.Errorf("master key %s: %w", path, err)
	}
	if len(key) != MasterKeySize {
		return nil, fmt.Errorf("master key %s is %d bytes, want %d; restore it from a backup (a new key cannot open data sealed with the old one)",
			path, fi.Size(), MasterKeySize)
	}
	return key, nil
}

func createMasterKey(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("master key: %w", err)
	}
	key := make([]byte, MasterKeySize)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("master key: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".master-key-*") // mode 0600
	if err != nil {
		return fmt.Errorf("master key: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(key)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("master key: write %s: %w", tmp.Name(), err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		return fmt.Errorf("master key: %w", err)
	}
	if err := datadir.SyncDir(dir); err != nil {
		return fmt.Errorf("master key: sync %s: %w", dir, err)
	}
	return nil
}
