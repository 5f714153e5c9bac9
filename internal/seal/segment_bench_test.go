package seal

import (
	"bytes"
	"io"
	"testing"
	"time"

	"vigil/internal/access"
)

// BenchmarkSegmentSeal measures sealing a 4 MiB segment (about a minute of
// a 0.5 Mbit/s camera) in the recorder's fragment-sized writes.
func BenchmarkSegmentSeal(b *testing.B) {
	s, _ := NewSealer(bytes.Repeat([]byte{1}, MasterKeySize))
	plain := bytes.Repeat([]byte{7}, 4<<20)
	seg := Segment{Stream: access.StreamMain, ID: 1, Start: time.Unix(1_800_000_000, 0)}
	b.SetBytes(int64(len(plain)))
	for b.Loop() {
		w, _ := s.NewSegmentWriter(io.Discard, "cam-a", epochA, seg)
		for p := plain; len(p) > 0; p = p[min(len(p), 90_000):] {
			w.Write(p[:min(len(p), 90_000)])
		}
		w.Close()
	}
}

// BenchmarkSegmentOpenRead measures opening a sealed 4 MiB segment and
// reading it whole, as a download does.
func BenchmarkSegmentOpenRead(b *testing.B) {
	s, _ := NewSealer(bytes.Repeat([]byte{1}, MasterKeySize))
	plain := bytes.Repeat([]byte{7}, 4<<20)
	seg := Segment{Stream: access.StreamMain, ID: 1, Start: time.Unix(1_800_000_000, 0)}
	var sealed bytes.Buffer
	w, _ := s.NewSegmentWriter(&sealed, "cam-a", epochA, seg)
	w.Write(plain)
	w.Close()
	g := access.NewIssuer().Mint("u", "cam-a", access.AudienceWeb, time.Hour)
	b.SetBytes(int64(len(plain)))
	buf := make([]byte, 32<<10) // io.Copy's buffer, as http.ServeContent reads
	for b.Loop() {
		sr, err := s.OpenSegment(g, epochA, seg, bytes.NewReader(sealed.Bytes()), int64(sealed.Len()))
		if err != nil {
			b.Fatal(err)
		}
		io.CopyBuffer(io.Discard, io.NewSectionReader(sr, 0, sr.Size()), buf)
	}
}
