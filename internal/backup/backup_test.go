package backup

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

var pass = []byte("correct horse battery")

func write(t *testing.T, files []File) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, pass, files); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func read(data, passphrase []byte) ([]File, error) {
	var got []File
	err := Read(bytes.NewReader(data), passphrase, func(f File) error {
		got = append(got, f)
		return nil
	})
	return got, err
}

func TestRoundTripAndSecrecy(t *testing.T) {
	big := bytes.Repeat([]byte("camera-password-"), 20000) // several chunks
	files := []File{{Name: "vigil.db", Mode: 0o600, Data: big}, {Name: "master.key", Mode: 0o600, Data: []byte("0123456789abcdef0123456789abcdef")}}
	data := write(t, files)
	if bytes.Contains(data, []byte("camera-password")) || bytes.Contains(data, []byte("0123456789abcdef")) {
		t.Fatal("backup holds plaintext")
	}
	got, err := read(data, pass)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "vigil.db" || !bytes.Equal(got[0].Data, big) || got[1].Mode != 0o600 ||
		!bytes.Equal(got[1].Data, files[1].Data) {
		t.Fatalf("round trip gave %d files", len(got))
	}
}

func TestRefusesWrongPassphraseAlterationAndTruncation(t *testing.T) {
	data := write(t, []File{{Name: "vigil.db", Mode: 0o600, Data: bytes.Repeat([]byte{7}, 200<<10)}})
	if _, err := read(data, []byte("wrong horse battery")); !errors.Is(err, ErrPassphrase) {
		t.Errorf("wrong passphrase: %v", err)
	}
	flipped := bytes.Clone(data)
	flipped[len(flipped)/2] ^= 1
	if _, err := read(flipped, pass); !errors.Is(err, ErrPassphrase) {
		t.Errorf("altered: %v", err)
	}
	// Cut at a chunk boundary: every remaining chunk opens, but the last
	// one is missing.
	cut := data[:headerSize+4+chunkSize+16]
	if _, err := read(cut, pass); !errors.Is(err, ErrTruncated) {
		t.Errorf("truncated: %v", err)
	}
	if _, err := read([]byte(strings.Repeat("x", 100)), pass); !errors.Is(err, ErrFormat) {
		t.Errorf("not a backup: %v", err)
	}
	if err := Write(&bytes.Buffer{}, []byte("short"), nil); err == nil {
		t.Error("a short passphrase was accepted")
	}
}
