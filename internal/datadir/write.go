package datadir

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// WriteFile replaces path with what r yields (see WriteFileFunc). A size
// of -1 takes whatever r yields; another size must match, or nothing is
// replaced.
func WriteFile(path, pattern string, r io.Reader, size int64) error {
	return WriteFileFunc(path, pattern, func(w io.Writer) error {
		n, err := io.Copy(w, r)
		if err == nil && size >= 0 && n != size {
			err = fmt.Errorf("read %d bytes, want %d", n, size)
		}
		return err
	})
}

// WriteFileFunc replaces path with what write writes, so that a crash or a
// failed write leaves the old file or the new one, never a part: written
// to a temporary file beside it (mode 0600), synced, renamed over path,
// and the rename synced. The temporary file's name follows pattern (as
// os.CreateTemp's); "" is ".write-*".
func WriteFileFunc(path, pattern string, write func(io.Writer) error) error {
	dir := filepath.Dir(path)
	if pattern == "" {
		pattern = ".write-*"
	}
	tmp, err := os.CreateTemp(dir, pattern) // mode 0600
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails once renamed: nothing to remove
	err = write(tmp)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err == nil {
		err = SyncDir(dir)
	}
	return err
}

// SyncDir makes a new, renamed or removed entry of dir durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
