package seal

import (
	"bytes"
	"io"
	"testing"
	"time"

	"vigil/internal/access"
)

// FuzzOpenSegment: whatever bytes a store hands back, opening and reading
// them never panics, and whatever opens and reads whole is the plaintext
// that was sealed (forging another needs the key). The seeds are a real
// segment (sealed anew in each process: the salt is random), cut copies,
// and testdata/fuzz.
func FuzzOpenSegment(f *testing.F) {
	s, err := NewSealer(bytes.Repeat([]byte{1}, MasterKeySize))
	if err != nil {
		f.Fatal(err)
	}
	seg := Segment{Stream: access.StreamMain, ID: 3, Start: time.Unix(1_800_000_000, 0)}
	plain := bytes.Repeat([]byte("recorded video "), 5000) // two chunks
	var sealed bytes.Buffer
	w, _ := s.NewSegmentWriter(&sealed, "cam-a", epochA, seg)
	w.Write(plain)
	w.Close()
	good := sealed.Bytes()
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add(good[:SegmentHeader+sealedChunk])
	f.Add([]byte("VSG1"))
	f.Add([]byte{})
	g := access.NewIssuer().Mint("u", "cam-a", access.AudienceWeb, time.Hour)
	f.Fuzz(func(t *testing.T, b []byte) {
		sr, err := s.OpenSegment(g, epochA, seg, bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		got, err := io.ReadAll(io.NewSectionReader(sr, 0, sr.Size()))
		if err == nil && !bytes.Equal(got, plain) {
			t.Fatalf("%d bytes opened and read whole as %d bytes that were never sealed", len(b), len(got))
		}
	})
}
