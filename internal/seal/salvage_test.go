package seal

import (
	"bytes"
	"crypto/rand"
	"testing"
	"time"

	"vigil/internal/access"
)

// TestSalvageSegment: an unfinished segment yields the plaintext of its
// whole chunks; a finished one all of it; under another camera's or
// epoch's name, or with a flipped byte in a chunk, nothing from there on.
func TestSalvageSegment(t *testing.T) {
	s := testSealer(t, 1)
	issuer := access.NewIssuer()
	own := issuer.Mint("u1", "cam-a", access.AudienceWeb, time.Hour)
	other := issuer.Mint("u2", "cam-b", access.AudienceWeb, time.Hour)
	seg := Segment{Stream: access.StreamMain, ID: 5, Start: segStart}
	plain := make([]byte, 3*SegmentChunk+1000)
	rand.Read(plain)
	var out bytes.Buffer
	w, err := s.NewSegmentWriter(&out, "cam-a", epochA, seg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(plain); err != nil {
		t.Fatal(err)
	}
	// Not closed: the writer sealed the three chunks it filled and holds
	// the last 1000 bytes.
	unfinished := bytes.Clone(out.Bytes())
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	whole := out.Bytes()
	flipped := bytes.Clone(whole)
	flipped[SegmentHeader+sealedChunk+7] ^= 1
	for _, c := range []struct {
		name   string
		g      access.Grant
		epoch  []byte
		sealed []byte
		want   []byte
	}{
		{"unfinished", own, epochA, unfinished, plain[:3*SegmentChunk]},
		{"unfinished, cut inside a chunk", own, epochA, unfinished[:len(unfinished)-100], plain[:2*SegmentChunk]},
		{"finished", own, epochA, whole, plain},
		{"second chunk flipped", own, epochA, flipped, plain[:SegmentChunk]},
		{"another camera", other, epochA, whole, nil},
		{"another epoch", own, epochB, whole, nil},
		{"header only", own, epochA, whole[:SegmentHeader], nil},
	} {
		got, err := s.SalvageSegment(c.g, c.epoch, seg, c.sealed)
		if err != nil || !bytes.Equal(got, c.want) {
			t.Errorf("%s: salvaged %d bytes (%v), want %d", c.name, len(got), err, len(c.want))
		}
	}
	if _, err := s.SalvageSegment(own, epochA, seg, []byte("VSG")); err == nil {
		t.Error("salvaged what is no segment")
	}
}
