package seal

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestLoadOrCreateMasterKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys", "master.key")
	key, err := LoadOrCreateMasterKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(key) != MasterKeySize || bytes.Equal(key, make([]byte, MasterKeySize)) {
		t.Fatalf("key = %x, want %d random bytes", key, MasterKeySize)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v; want mode 0600", fi.Mode(), err)
	}
	again, err := LoadOrCreateMasterKey(path)
	if err != nil || !bytes.Equal(again, key) {
		t.Fatalf("second call = %x, %v; want the same key", again, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the key (temp file left behind?)", len(entries))
	}
	other, err := LoadOrCreateMasterKey(filepath.Join(dir, "other.key"))
	if err != nil || bytes.Equal(other, key) {
		t.Fatalf("another path gave %x, %v; want a different key", other, err)
	}
}

func TestMasterKeyConcurrentCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	keys := make([][]byte, 8)
	errs := make([]error, len(keys))
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() { keys[i], errs[i] = LoadOrCreateMasterKey(path) })
	}
	wg.Wait()
	for i := range keys {
		if errs[i] != nil || !bytes.Equal(keys[i], keys[0]) {
			t.Fatalf("caller %d got %x, %v; want everyone to get %x", i, keys[i], errs[i], keys[0])
		}
	}
}

func TestMasterKeyRefused(t *testing.T) {
	tests := []struct {
		name    string
		content []byte
		mode    os.FileMode
		want    string
	}{
		{"group readable", make([]byte, 32), 0o640, "run `chmod 600 "},
		{"world readable", make([]byte, 32), 0o604, "mode 0604"},
		{"short", make([]byte, 16), 0o600, "is 16 bytes, want 32"},
		{"long", make([]byte, 64), 0o600, "is 64 bytes, want 32"},
		{"empty", nil, 0o600, "is 0 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "master.key")
			if err := os.WriteFile(path, tt.content, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			_, err := LoadOrCreateMasterKey(path)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("err = %v, want one containing %q and the path", err, tt.want)
			}
			if got, _ := os.ReadFile(path); !bytes.Equal(got, tt.content) {
				t.Errorf("refused key file was modified")
			}
		})
	}
}
