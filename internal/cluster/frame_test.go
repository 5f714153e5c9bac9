package cluster

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/media"
)

func TestChunksReassemble(t *testing.T) {
	const limit = 100
	part := limit - chunkHeader
	for _, size := range []int{0, 1, part - 1, part, part + 1, 3*part + 5} {
		msg := bytes.Repeat([]byte{byte(size)}, size)
		frames, err := chunks(1, 9, msg, limit)
		if err != nil {
			t.Fatal(err)
		}
		if want := max((size+part-1)/part, 1); len(frames) != want {
			t.Fatalf("%d bytes: %d chunks, want %d", size, len(frames), want)
		}
		var a assembler
		for i, f := range frames {
			if len(f) > limit {
				t.Fatalf("chunk of %d bytes over the limit %d", len(f), limit)
			}
			got, err := a.add(f)
			if err != nil {
				t.Fatal(err)
			}
			if last := i == len(frames)-1; last != (got != nil) || last && !bytes.Equal(got, msg) {
				t.Fatalf("%d bytes, chunk %d: reassembled %d bytes", size, i, len(got))
			}
		}
	}
}

// TestChunksOfTwoSenders: chunks of two senders interleaved on a subject
// reassemble apart; a lost chunk drops only its own message.
func TestChunksOfTwoSenders(t *testing.T) {
	a1, _ := chunks(1, 1, bytes.Repeat([]byte("a"), 200), 100)
	b1, _ := chunks(2, 1, bytes.Repeat([]byte("b"), 200), 100)
	a2, _ := chunks(1, 2, bytes.Repeat([]byte("A"), 200), 100)
	var asm assembler
	var whole [][]byte
	feed := func(f []byte) error {
		got, err := asm.add(f)
		if got != nil {
			whole = append(whole, got)
		}
		return err
	}
	for i := range a1 {
		feed(a1[i])
		feed(b1[i])
	}
	if len(whole) != 2 || whole[0][0] != 'a' || whole[1][0] != 'b' {
		t.Fatalf("interleaved senders reassembled %d messages", len(whole))
	}
	if err := feed(a2[1]); !errors.Is(err, errFrame) { // a2[0] lost
		t.Fatalf("chunk after a lost one: %v, want errFrame", err)
	}
	for _, f := range a2[2:] {
		feed(f)
	}
	if len(whole) != 2 {
		t.Fatal("a message missing a chunk was delivered")
	}
}

func TestChunkRefusesOversize(t *testing.T) {
	if _, err := chunks(1, 1, make([]byte, maxSealed+1), 1<<20); err == nil {
		t.Fatal("chunks accepted a message over maxSealed")
	}
}

func TestUnitRoundTrip(t *testing.T) {
	owner := media.Owner{Device: "cam-a", Stream: access.StreamSub, Session: 3}
	for _, u := range []*media.Unit{
		media.NewUnit(owner, 1, 0, 0, true, time.Unix(0, 1), nil),
		media.NewUnit(owner, 2, 1, -time.Second, false, time.Unix(1_800_000_000, 5), [][]byte{{}, {1, 2, 3}, bytes.Repeat([]byte{9}, 70000)}),
	} {
		b, err := encodeUnit(u)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeUnit(owner, u.Seq, b)
		if err != nil {
			t.Fatal(err)
		}
		if got.Track != u.Track || got.PTS != u.PTS || got.Key != u.Key || !got.Captured().Equal(u.Captured()) ||
			len(got.Payload) != len(u.Payload) || got.Size() != u.Size() {
			t.Fatalf("round trip changed the unit: %+v -> %+v", u, got)
		}
		for i := range u.Payload {
			if !bytes.Equal(got.Payload[i], u.Payload[i]) {
				t.Fatalf("payload part %d changed", i)
			}
		}
		for cut := range len(b) {
			if _, err := decodeUnit(owner, 1, b[:cut]); err == nil {
				t.Fatalf("a unit cut to %d of %d bytes decoded", cut, len(b))
			}
		}
	}
}

// FuzzDecodeUnit: whatever an opened seal holds, decoding never panics,
// and what decodes encodes back to the same bytes.
func FuzzDecodeUnit(f *testing.F) {
	owner := media.Owner{Device: "cam-a", Stream: access.StreamMain, Session: 1}
	good, _ := encodeUnit(media.NewUnit(owner, 1, 0, time.Second, true, time.Unix(5, 0), [][]byte{{1, 2}, {3}}))
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		u, err := decodeUnit(owner, 1, b)
		if err != nil {
			return
		}
		again, err := encodeUnit(u)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("decoded %d bytes re-encode as %d (%v)", len(b), len(again), err)
		}
	})
}

// FuzzAssemble: whatever chunk frames arrive, reassembly never panics and
// never yields a message over maxSealed.
func FuzzAssemble(f *testing.F) {
	frames, _ := chunks(1, 1, bytes.Repeat([]byte("x"), 300), 100)
	for _, fr := range frames {
		f.Add(fr, fr)
	}
	f.Add(frames[0], frames[2])
	f.Add([]byte("VBC1"), []byte{})
	f.Fuzz(func(t *testing.T, x, y []byte) {
		var a assembler
		for _, fr := range [][]byte{x, y, x} {
			got, _ := a.add(fr)
			if len(got) > maxSealed || len(a.partials) > maxPartials {
				t.Fatalf("reassembly grew past its bounds: %d bytes, %d partials", len(got), len(a.partials))
			}
		}
	})
}
