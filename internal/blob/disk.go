package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"vigil/internal/datadir"
)

// Disk keeps objects as files under a directory, one file per key ('/'
// separates directories). A Put writes a temporary file beside the
// object's, syncs it, renames it over the object and syncs the directory,
// so after a crash the object is the old one or the whole new one; what
// a Put killed midway had written stays in its temporary file, which
// Partials finds.
type Disk struct {
	root string
}

var _ Store = (*Disk)(nil)

// NewDisk returns a Disk keeping objects under root, which it creates
// (mode 0700) if missing.
func NewDisk(root string) (*Disk, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("blob: %w", err)
	}
	return &Disk{root: root}, nil
}

func (d *Disk) path(key string) (string, error) {
	if err := CheckKey(key); err != nil {
		return "", err
	}
	return filepath.Join(d.root, filepath.FromSlash(key)), nil
}

// Put implements Store.
func (d *Disk) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	path, err := d.path(key)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("blob: put %s: %w", key, err)
	}
	// The temporary file is named after its object: see Partials.
	err = datadir.WriteFile(path, partialPrefix+filepath.Base(path)+"-*", ctxReader{ctx, r}, size)
	if err != nil {
		return fmt.Errorf("blob: put %s: %w", key, err)
	}
	return nil
}

// Get implements Store.
func (d *Disk) Get(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	path, err := d.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, notFound(key, err)
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("blob: get %s: not a regular file (%v)", key, err)
	}
	if err := checkRange(off, fi.Size()); err != nil {
		f.Close()
		return nil, err
	}
	if n < 0 || off+n > fi.Size() {
		n = fi.Size() - off
	}
	return sectionCloser{io.NewSectionReader(f, off, n), f}, nil
}

// checkRange refuses an offset at or past the end, except 0 of an empty object.
func checkRange(off, size int64) error {
	if off < 0 || off > size || off == size && size > 0 {
		return fmt.Errorf("%w: offset %d of %d bytes", ErrRange, off, size)
	}
	return nil
}

type sectionCloser struct {
	*io.SectionReader
	f *os.File
}

func (s sectionCloser) Close() error { return s.f.Close() }

// Stat implements Store.
func (d *Disk) Stat(ctx context.Context, key string) (Info, error) {
	path, err := d.path(key)
	if err != nil {
		return Info{}, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return Info{}, notFound(key, err)
	}
	if !fi.Mode().IsRegular() {
		return Info{}, fmt.Errorf("blob: stat %s: %w", key, ErrNotFound)
	}
	return Info{Key: key, Size: fi.Size(), Modified: fi.ModTime()}, nil
}

// List implements Store. It walks the directory under the prefix's last
// '/', skipping temporary files.
func (d *Disk) List(ctx context.Context, prefix string) ([]Info, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, err
	}
	base := d.root
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		base = filepath.Join(d.root, filepath.FromSlash(prefix[:i]))
	}
	var out []Info
	err := filepath.WalkDir(base, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if strings.HasPrefix(e.Name(), ".") || !e.Type().IsRegular() {
			return ctx.Err()
		}
		rel, err := filepath.Rel(d.root, path)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		fi, err := e.Info()
		if err != nil {
			return nil // removed meanwhile
		}
		out = append(out, Info{Key: key, Size: fi.Size(), Modified: fi.ModTime()})
		return ctx.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("blob: list %s: %w", prefix, err)
	}
	slices.SortFunc(out, func(a, b Info) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// Delete implements Store.
func (d *Disk) Delete(ctx context.Context, key string) error {
	path, err := d.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blob: delete %s: %w", key, err)
	}
	return nil
}

func notFound(key string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blob: %s: %w", key, ErrNotFound)
	}
	return fmt.Errorf("blob: %s: %w", key, err)
}

// ctxReader stops a copy when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// WriteTo is the reader's own WriteTo when it has one (a recorder's
// input hands its bytes over without a copy buffer), each write checking
// ctx; otherwise a plain copy.
func (c ctxReader) WriteTo(w io.Writer) (int64, error) {
	wt, ok := c.r.(io.WriterTo)
	if !ok {
		return io.Copy(w, struct{ io.Reader }{c})
	}
	return wt.WriteTo(ctxWriter{c.ctx, w})
}

// ctxWriter stops a copy when ctx ends.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// Free is the space left for unprivileged writers on the file system that
// holds the store (statfs(2): available blocks times block size).
func (d *Disk) Free(ctx context.Context) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(d.root, &st); err != nil {
		return 0, fmt.Errorf("blob: free space of %s: %w", d.root, err)
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}
