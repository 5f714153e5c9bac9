package hub

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"vigil/internal/access"
	"vigil/internal/media"
)

// H.265 NAL unit types of the open GOPs below (H.265 Table 7-1).
const (
	hevcTrail = 1
	hevcRADL  = 6
	hevcRASL  = 8
	hevcCRA   = 21
)

// openGOP is the decoding order of an open H.265 GOP of 8 pictures: a CRA,
// two RASL pictures that refer to the previous GOP, a RADL picture that
// refers only to the CRA, then trailing pictures.
var openGOP = []byte{hevcCRA, hevcRASL, hevcRASL, hevcRADL, hevcTrail, hevcTrail, hevcTrail, hevcTrail}

func hevcTracks() []*media.Track {
	return []*media.Track{
		{Kind: media.Video, Format: &format.H265{PayloadTyp: 96}},
		{Kind: media.Audio, Format: &format.G711{PayloadTyp: 0, MULaw: true, SampleRate: 8000, ChannelCount: 1}},
	}
}

// hevcFrame writes picture n of a stream of open GOPs, plus an audio unit.
// The picture's payload is one NAL unit whose third byte is n.
func hevcFrame(t *testing.T, p *Publisher, n int) {
	t.Helper()
	typ := openGOP[n%len(openGOP)]
	pts := time.Duration(n) * 40 * time.Millisecond
	if err := p.Write(0, UnitData{PTS: pts, Key: typ == hevcCRA, Payload: [][]byte{{typ << 1, 1, byte(n)}}}); err != nil {
		t.Fatal(err)
	}
	if err := p.Write(1, UnitData{PTS: pts, Payload: [][]byte{{0xff}}}); err != nil {
		t.Fatal(err)
	}
}

// pictures drains r and returns the picture numbers it delivered.
func pictures(t *testing.T, r *Reader) []int {
	t.Helper()
	var out []int
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		u, err := r.Next(ctx)
		cancel()
		if err != nil {
			return out
		}
		if u.Track == 0 {
			out = append(out, int(u.Payload[0][2]))
		}
	}
}

// isRASL says which picture numbers are RASL pictures.
func isRASL(n int) bool { return openGOP[n%len(openGOP)] == hevcRASL }

func TestJoinAtCRALeavesOutItsRASLPictures(t *testing.T) {
	for _, joinAt := range []int{1, 2, 3, 5, 9, 11, 14} {
		h := New(Config{})
		p, _ := h.Publish("cam-a", access.StreamMain, hevcTracks())
		for n := range joinAt {
			hevcFrame(t, p, n)
		}
		r, err := h.Read(grant("cam-a"), access.StreamMain)
		if err != nil {
			t.Fatal(err)
		}
		for n := joinAt; n < 24; n++ {
			hevcFrame(t, p, n)
		}
		// The reader starts at the cached CRA; its RASL pictures refer to
		// pictures the reader never had. Every later GOP's are decodable.
		key := (joinAt - 1) / 8 * 8
		var want []int
		for n := key; n < 24; n++ {
			if n >= key+8 || !isRASL(n) {
				want = append(want, n)
			}
		}
		if got := pictures(t, r); !slices.Equal(got, want) {
			t.Errorf("join after %d pictures: got %v, want %v", joinAt, got, want)
		}
	}
}

func TestReaderWaitingForAKeyStartsAtCRAWithoutItsRASLPictures(t *testing.T) {
	h := New(Config{})
	p, _ := h.Publish("cam-a", access.StreamMain, hevcTracks())
	r, _ := h.Read(grant("cam-a"), access.StreamMain)
	for n := range 12 {
		hevcFrame(t, p, n)
	}
	if got, want := pictures(t, r), []int{0, 3, 4, 5, 6, 7, 8, 9, 10, 11}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestResumeAtCRALeavesOutItsRASLPictures(t *testing.T) {
	t.Run("output skip", func(t *testing.T) {
		h := New(Config{})
		p, _ := h.Publish("cam-a", access.StreamMain, hevcTracks())
		for n := range 6 {
			hevcFrame(t, p, n)
		}
		r, _ := h.Read(grant("cam-a"), access.StreamMain)
		pictures(t, r)
		r.Skip() // the output's transport dropped data at picture 5
		for n := 6; n < 24; n++ {
			hevcFrame(t, p, n)
		}
		want := []int{8, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23}
		if got := pictures(t, r); !slices.Equal(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
	})
	t.Run("queue overflow", func(t *testing.T) {
		// A queue of 12 units holds 6 pictures and their audio: the slow
		// reader overflows now and then and resumes at the next CRA.
		h := New(Config{ReaderQueueUnits: 12})
		p, _ := h.Publish("cam-a", access.StreamMain, hevcTracks())
		hevcFrame(t, p, 0)
		r, _ := h.Read(grant("cam-a"), access.StreamMain)
		var got []int
		for n := 1; n < 48; n++ {
			hevcFrame(t, p, n)
			if n%7 == 0 { // reads now and then, 7 pictures apart
				got = append(got, pictures(t, r)...)
			}
		}
		got = append(got, pictures(t, r)...)
		if r.Skips() == 0 {
			t.Fatal("the reader never skipped")
		}
		// Pictures follow in order but for a resume, which must be at a
		// CRA; after it no RASL picture until a trailing picture.
		last, fromKey := -1, false
		for _, n := range got {
			typ := openGOP[n%8]
			next := last + 1
			for fromKey && isRASL(next) {
				next++ // left out
			}
			if n != next {
				if typ != hevcCRA {
					t.Fatalf("picture %d follows %d: a resume not at a CRA (got %v)", n, last, got)
				}
				fromKey = true
			}
			if typ == hevcRASL && fromKey {
				t.Fatalf("RASL picture %d after resuming at CRA %d (got %v)", n, n/8*8, got)
			}
			if typ == hevcTrail {
				fromKey = false
			}
			last = n
		}
	})
}

func TestReadBackKeepsTheRASLPicturesOfTheSecondGOP(t *testing.T) {
	h := New(Config{})
	p, _ := h.Publish("cam-a", access.StreamMain, hevcTracks())
	for n := range 20 {
		hevcFrame(t, p, n)
	}
	r, err := h.ReadBack(grant("cam-a"), access.StreamMain)
	if err != nil {
		t.Fatal(err)
	}
	// It starts at CRA 8: RASL 9 and 10 are left out; RASL 17 and 18 refer
	// to pictures of the GOP the reader has, so they stay.
	want := []int{8, 11, 12, 13, 14, 15, 16, 17, 18, 19}
	if got := pictures(t, r); !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// TestUnitWithoutAPictureKeepsLeavingOutRASL: a unit that holds no picture
// (parameter sets and an SEI, sent apart) between a CRA and its RASL
// pictures is not a trailing picture: the RASL pictures are still left out.
func TestUnitWithoutAPictureKeepsLeavingOutRASL(t *testing.T) {
	h := New(Config{})
	p, _ := h.Publish("cam-a", access.StreamMain, hevcTracks())
	r, _ := h.Read(grant("cam-a"), access.StreamMain)
	write := func(key bool, typ byte, n int) {
		t.Helper()
		if err := p.Write(0, UnitData{PTS: time.Duration(n) * 40 * time.Millisecond, Key: key,
			Payload: [][]byte{{typ << 1, 1, byte(n)}}}); err != nil {
			t.Fatal(err)
		}
	}
	write(true, hevcCRA, 0)
	write(false, 34, 1) // PPS
	write(false, 39, 2) // SEI
	write(false, hevcRASL, 3)
	write(false, hevcTrail, 4)
	write(false, hevcRASL, 5) // not after a CRA this reader started at: kept
	if got, want := pictures(t, r), []int{0, 1, 2, 4, 5}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}
