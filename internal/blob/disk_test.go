package blob_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"vigil/internal/blob"
	"vigil/internal/blob/blobtest"
)

func TestDisk(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store {
		d, err := blob.NewDisk(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return d
	})
}

// TestDiskLeavesNoTemporaryFiles: a failed put removes its temporary file,
// and an object's file is private to the process's user.
func TestDiskLeavesNoTemporaryFiles(t *testing.T) {
	root := t.TempDir()
	d, err := blob.NewDisk(root)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := d.Put(ctx, "a/b", bytes.NewReader([]byte("hello")), 5); err != nil {
		t.Fatal(err)
	}
	if err := d.Put(ctx, "a/c", bytes.NewReader([]byte("hel")), 5); err == nil {
		t.Fatal("a Put shorter than its size succeeded")
	}
	entries, err := os.ReadDir(filepath.Join(root, "a"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "b" {
		t.Fatalf("directory holds %v, want only b", entries)
	}
	fi, err := os.Stat(filepath.Join(root, "a", "b"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("object file mode %v, %v; want 0600", fi.Mode(), err)
	}
}
