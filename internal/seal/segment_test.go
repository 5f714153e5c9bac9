package seal

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"testing"
	"time"

	"vigil/internal/access"
)

var epochB = bytes.Repeat([]byte{0xb}, 32)

var segStart = time.Date(2026, 12, 2, 13, 0, 0, 123, time.UTC)

func sealSegment(t *testing.T, s *Sealer, device access.DeviceID, epoch []byte, seg Segment, plain []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := s.NewSegmentWriter(&out, device, epoch, seg)
	if err != nil {
		t.Fatal(err)
	}
	// Odd write sizes cross chunk boundaries.
	for p := plain; len(p) > 0; {
		k := min(len(p), 10_007)
		if _, err := w.Write(p[:k]); err != nil {
			t.Fatal(err)
		}
		p = p[k:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if int64(out.Len()) != SealedSize(int64(len(plain))) {
		t.Fatalf("sealed %d bytes into %d, SealedSize says %d", len(plain), out.Len(), SealedSize(int64(len(plain))))
	}
	return out.Bytes()
}

func TestSegmentRoundTrip(t *testing.T) {
	s := testSealer(t, 1)
	g := access.NewIssuer().Mint("u1", "cam-a", access.AudienceWeb, time.Hour)
	seg := Segment{Stream: access.StreamMain, ID: 9, Start: segStart}
	for _, n := range []int{0, 1, SegmentChunk - 1, SegmentChunk, SegmentChunk + 1, 3*SegmentChunk + 999, 4 * SegmentChunk} {
		plain := make([]byte, n)
		rand.Read(plain)
		sealed := sealSegment(t, s, "cam-a", epochA, seg, plain)
		if n > 32 && bytes.Contains(sealed, plain[:32]) {
			t.Fatal("plaintext visible in the sealed segment")
		}
		sr, err := s.OpenSegment(g, epochA, seg, bytes.NewReader(sealed), int64(len(sealed)))
		if err != nil {
			t.Fatalf("%d bytes: OpenSegment: %v", n, err)
		}
		got, err := io.ReadAll(io.NewSectionReader(sr, 0, sr.Size()))
		if err != nil || !bytes.Equal(got, plain) || sr.Size() != int64(n) {
			t.Fatalf("%d bytes: read back %d (size %d), %v", n, len(got), sr.Size(), err)
		}
	}
}

// TestSegmentRangeOpensOnlyItsChunks: a read in the middle returns the exact
// plaintext and opens the chunks it touches (plus the last, at open).
func TestSegmentRangeOpensOnlyItsChunks(t *testing.T) {
	s := testSealer(t, 1)
	g := access.NewIssuer().Mint("u1", "cam-a", access.AudienceWeb, time.Hour)
	seg := Segment{Stream: access.StreamMain, ID: 1, Start: segStart}
	plain := make([]byte, 10*SegmentChunk+500)
	rand.Read(plain)
	sealed := sealSegment(t, s, "cam-a", epochA, seg, plain)
	sr, err := s.OpenSegment(g, epochA, seg, bytes.NewReader(sealed), int64(len(sealed)))
	if err != nil {
		t.Fatal(err)
	}
	if sr.ChunksOpened() != 1 {
		t.Fatalf("open opened %d chunks, want 1 (the last)", sr.ChunksOpened())
	}
	off := int64(4*SegmentChunk - 100) // spans chunks 3 and 4
	buf := make([]byte, 300)
	if _, err := sr.ReadAt(buf, off); err != nil || !bytes.Equal(buf, plain[off:off+300]) {
		t.Fatalf("ReadAt in the middle: %v, or wrong bytes", err)
	}
	if sr.ChunksOpened() != 3 {
		t.Fatalf("a read across two chunks opened %d in all, want 3", sr.ChunksOpened())
	}
}

func TestSegmentRefuses(t *testing.T) {
	s := testSealer(t, 1)
	issuer := access.NewIssuer()
	own := issuer.Mint("u1", "cam-a", access.AudienceWeb, time.Hour)
	other := issuer.Mint("u2", "cam-b", access.AudienceWeb, time.Hour)
	seg := Segment{Stream: access.StreamMain, ID: 5, Start: segStart}
	plain := make([]byte, 3*SegmentChunk+10)
	rand.Read(plain)
	sealed := sealSegment(t, s, "cam-a", epochA, seg, plain)
	open := func(g access.Grant, epoch []byte, seg Segment, b []byte) error {
		_, err := s.OpenSegment(g, epoch, seg, bytes.NewReader(b), int64(len(b)))
		return err
	}
	flip := func(i int) []byte { b := bytes.Clone(sealed); b[i] ^= 1; return b }
	cases := []struct {
		name string
		err  error
	}{
		{"another camera's grant", open(other, epochA, seg, sealed)},
		{"another epoch", open(own, epochB, seg, sealed)},
		{"another stream", open(own, epochA, Segment{Stream: access.StreamSub, ID: 5, Start: segStart}, sealed)},
		{"another segment id", open(own, epochA, Segment{Stream: access.StreamMain, ID: 6, Start: segStart}, sealed)},
		{"another start", open(own, epochA, Segment{Stream: access.StreamMain, ID: 5, Start: segStart.Add(time.Nanosecond)}, sealed)},
		{"cut at a chunk boundary", open(own, epochA, seg, sealed[:SegmentHeader+3*sealedChunk])},
		{"cut inside the last chunk", open(own, epochA, seg, sealed[:len(sealed)-1])},
		{"a changed salt", open(own, epochA, seg, flip(5))},
		{"a changed nonce prefix", open(own, epochA, seg, flip(SegmentHeader-1))},
		{"a changed last chunk", open(own, epochA, seg, flip(len(sealed)-3))},
		{"a zero grant", open(access.Grant{}, epochA, seg, sealed)},
	}
	for _, c := range cases {
		if c.err == nil {
			t.Errorf("%s: opened", c.name)
		}
	}
	if !errors.Is(cases[0].err, ErrOpen) {
		t.Errorf("another camera's grant: %v, want ErrOpen", cases[0].err)
	}
	// A changed middle chunk opens, but reading it fails.
	sr, err := s.OpenSegment(own, epochA, seg, bytes.NewReader(flip(SegmentHeader+sealedChunk+7)), int64(len(sealed)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sr.ReadAt(make([]byte, 10), SegmentChunk+5); !errors.Is(err, ErrOpen) {
		t.Errorf("reading a changed chunk: %v, want ErrOpen", err)
	}
	// Chunks swapped in place do not open either (the index is in the nonce).
	swapped := bytes.Clone(sealed)
	copy(swapped[SegmentHeader:], sealed[SegmentHeader+sealedChunk:SegmentHeader+2*sealedChunk])
	copy(swapped[SegmentHeader+sealedChunk:], sealed[SegmentHeader:SegmentHeader+sealedChunk])
	sr, _ = s.OpenSegment(own, epochA, seg, bytes.NewReader(swapped), int64(len(swapped)))
	if _, err := sr.ReadAt(make([]byte, 10), 0); !errors.Is(err, ErrOpen) {
		t.Errorf("reading swapped chunks: %v, want ErrOpen", err)
	}
}

func TestSealedSizeLayout(t *testing.T) {
	for _, n := range []int64{0, 1, SegmentChunk, SegmentChunk + 1, 100 * SegmentChunk} {
		chunks, plain, err := plainLayout(SealedSize(n))
		if err != nil || plain != n || chunks != max((n+SegmentChunk-1)/SegmentChunk, 1) {
			t.Errorf("plainLayout(SealedSize(%d)) = %d chunks, %d bytes, %v", n, chunks, plain, err)
		}
	}
	for _, size := range []int64{0, SegmentHeader, SegmentHeader + 15, SegmentHeader + sealedChunk + 3} {
		if _, _, err := plainLayout(size); !errors.Is(err, ErrSegmentFormat) {
			t.Errorf("plainLayout(%d) = %v, want ErrSegmentFormat", size, err)
		}
	}
}

// readCounter counts the ranged reads of a sealed segment.
type readCounter struct {
	r     io.ReaderAt
	reads int
}

func (c *readCounter) ReadAt(p []byte, off int64) (int, error) {
	c.reads++
	return c.r.ReadAt(p, off)
}

// TestSegmentReadsAheadWhenReadOn: a segment read from start to end, in
// ServeContent's 32 KiB reads, fetches readAhead chunks per ranged read
// of the store (each a request to it), not one, and returns the exact
// plaintext; a read that jumps fetches only its chunk, and each chunk is
// opened once.
func TestSegmentReadsAheadWhenReadOn(t *testing.T) {
	s := testSealer(t, 1)
	g := access.NewIssuer().Mint("u1", "cam-a", access.AudienceWeb, time.Hour)
	seg := Segment{Stream: access.StreamMain, ID: 1, Start: segStart}
	plain := make([]byte, 10*SegmentChunk+500) // 11 chunks
	rand.Read(plain)
	sealed := sealSegment(t, s, "cam-a", epochA, seg, plain)
	rc := &readCounter{r: bytes.NewReader(sealed)}
	sr, err := s.OpenSegment(g, epochA, seg, rc, int64(len(sealed)))
	if err != nil {
		t.Fatal(err)
	}
	rc.reads = 0
	var got bytes.Buffer
	if _, err := io.CopyBuffer(&got, io.NewSectionReader(sr, 0, sr.Size()), make([]byte, 32<<10)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), plain) {
		t.Fatal("the plaintext read on differs")
	}
	// Chunk 0 alone (the last was opened before), then 1-4, 5-8, and 9-10
	// with the last read again: 4 reads, not 11.
	if rc.reads != 4 {
		t.Errorf("reading on through 11 chunks made %d ranged reads, want 4", rc.reads)
	}
	if n := sr.ChunksOpened(); n != 12 {
		t.Errorf("%d chunks opened, want 12 (11, and the last at open)", n)
	}
	rc.reads = 0
	buf := make([]byte, 100)
	if _, err := sr.ReadAt(buf, 3*SegmentChunk); err != nil || !bytes.Equal(buf, plain[3*SegmentChunk:3*SegmentChunk+100]) {
		t.Fatalf("a read that jumps back: %v, or wrong bytes", err)
	}
	if rc.reads != 1 {
		t.Errorf("a read that jumps made %d ranged reads, want 1", rc.reads)
	}
}
