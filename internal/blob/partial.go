package blob

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// partialPrefix starts the name of a Put's temporary file, which goes on
// with the object's file name, '-' and random digits.
const partialPrefix = ".put-"

// Partial is what a Put that never finished left behind: the bytes it had
// written of the object under Key when its process died.
type Partial struct {
	Key  string
	Size int64
	path string
}

// Partials lists what unfinished Puts of keys under prefix left, by key.
// Call it only while no Put of those keys runs (before recording starts):
// a running Put's file looks the same.
func (d *Disk) Partials(ctx context.Context, prefix string) ([]Partial, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, err
	}
	var out []Partial
	err := filepath.WalkDir(d.root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		name, ok := strings.CutPrefix(e.Name(), partialPrefix)
		i := strings.LastIndexByte(name, '-')
		if !ok || i <= 0 || !e.Type().IsRegular() {
			return ctx.Err()
		}
		rel, err := filepath.Rel(d.root, filepath.Join(filepath.Dir(path), name[:i]))
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		fi, err := e.Info()
		if err != nil || !strings.HasPrefix(key, prefix) || CheckKey(key) != nil {
			return ctx.Err() // removed meanwhile, or not ours
		}
		out = append(out, Partial{Key: key, Size: fi.Size(), path: path})
		return ctx.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("blob: partials under %s: %w", prefix, err)
	}
	return out, nil
}

// ReadPartial returns what p holds.
func (d *Disk) ReadPartial(p Partial) ([]byte, error) {
	b, err := os.ReadFile(p.path)
	if err != nil {
		return nil, fmt.Errorf("blob: read partial %s: %w", p.Key, err)
	}
	return b, nil
}

// RemovePartial deletes p; one already gone is not an error.
func (d *Disk) RemovePartial(p Partial) error {
	if err := os.Remove(p.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blob: remove partial %s: %w", p.Key, err)
	}
	return nil
}
