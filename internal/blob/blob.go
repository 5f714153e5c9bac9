// Package blob owns where large objects live: a local directory (the
// default) or an S3-compatible object store. It stores opaque bytes under
// keys and knows nothing of media, users or sealing: callers seal what they
// put (internal/seal) and build keys from typed IDs, never from requests.
package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Store keeps objects under keys. Implementations are safe for concurrent
// use; a Put is atomic: a reader sees the whole old object (or none) or the
// whole new one, never a part.
type Store interface {
	// Put stores what r yields under key, replacing any object there. size
	// is the length if known, -1 if not (the object is streamed).
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	// Get returns n bytes of the object from off (n < 0: to its end). A
	// range that starts past the end is ErrRange; one that runs past the
	// end is cut short. A missing object is ErrNotFound.
	Get(ctx context.Context, key string, off, n int64) (io.ReadCloser, error)
	// Stat describes the object, or fails with ErrNotFound.
	Stat(ctx context.Context, key string) (Info, error)
	// List returns the objects whose keys start with prefix, in key order.
	List(ctx context.Context, prefix string) ([]Info, error)
	// Delete removes the object; a missing one is not an error.
	Delete(ctx context.Context, key string) error
}

// Info describes a stored object.
type Info struct {
	Key      string
	Size     int64
	Modified time.Time
}

// CheckKey reports whether key is one every Store can hold the same way:
// 1 to 512 characters of [a-z0-9._-] in '/'-separated parts, none empty
// or starting with '.' (the disk store's temporary files do). Keys are built by code from typed IDs; this only keeps a bug
// from escaping the store's directory or meaning different things on disk
// and in S3.
func CheckKey(key string) error {
	if key == "" || len(key) > 512 {
		return fmt.Errorf("%w: %q: length must be 1 to 512", ErrBadKey, key)
	}
	for part := range strings.SplitSeq(key, "/") {
		if part == "" || part[0] == '.' {
			return fmt.Errorf("%w: %q: a part is empty or starts with '.'", ErrBadKey, key)
		}
		for _, c := range part {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
				return fmt.Errorf("%w: %q: character %q", ErrBadKey, key, c)
			}
		}
	}
	return nil
}

// checkPrefix is CheckKey for a List prefix, which may be empty or end in '/'.
func checkPrefix(prefix string) error {
	p := strings.TrimSuffix(prefix, "/")
	if p == "" {
		return nil
	}
	return CheckKey(p)
}

// Spacer is a Store that knows the free space where it keeps objects
// (Disk; an S3-compatible store does not say).
type Spacer interface {
	Free(ctx context.Context) (int64, error)
}

var _ Spacer = (*Disk)(nil)

// ReaderAt reads the object key of s by ranged gets, one per ReadAt: the
// sealed-segment reader opens only the chunks a read touches.
func ReaderAt(ctx context.Context, s Store, key string) io.ReaderAt {
	return &readerAt{ctx: ctx, s: s, key: key}
}

type readerAt struct {
	ctx context.Context
	s   Store
	key string
}

func (r *readerAt) ReadAt(p []byte, off int64) (int, error) {
	rc, err := r.s.Get(r.ctx, r.key, off, int64(len(p)))
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	n, err := io.ReadFull(rc, p)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = io.EOF
	}
	return n, err
}
