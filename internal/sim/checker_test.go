package sim

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
)

// stampedAUs returns n access units of camera from a small generator, each
// stamped with seqs first, first+1, ...
func stampedAUs(t testing.TB, camera string, first uint64, n int) [][][]byte {
	t.Helper()
	g, err := NewGenerator(64, 48, 10, 4, DrawPicture(camera, 64, 48))
	if err != nil {
		t.Fatal(err)
	}
	var aus [][][]byte
	for i := range n {
		au, _ := g.Next()
		st := StampNALU(testKey(camera), Stamp{camera, first + uint64(i), time.Now()})
		aus = append(aus, withStamp(au, st))
	}
	return aus
}

func TestCheckerOnly(t *testing.T) {
	aus := stampedAUs(t, "cam-a", 1, 6)
	c := NewChecker(testKeys)
	for _, au := range aus {
		if err := c.AccessUnit(au); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Only("cam-a"); err != nil {
		t.Fatal(err)
	}
	if err := c.Only("cam-b"); err == nil {
		t.Fatal("Only(cam-b) passed on cam-a's stamps")
	}
	if got := c.Counts()["cam-a"]; got != 6 {
		t.Fatalf("count %d, want 6", got)
	}

	// One foreign access unit spoils it.
	if err := c.AccessUnit(stampedAUs(t, "cam-b", 1, 1)[0]); err != nil {
		t.Fatal(err)
	}
	if err := c.Only("cam-a"); err == nil {
		t.Fatal("Only(cam-a) passed with a cam-b stamp")
	}

	// So does a forged stamp, and an empty checker.
	c2 := NewChecker(testKeys)
	if err := c2.Only("cam-a"); err == nil {
		t.Fatal("Only passed with zero stamps")
	}
	forged := StampNALU(testKey("cam-b"), Stamp{"cam-a", 1, time.Now()})
	if err := c2.AccessUnit([][]byte{forged, {0x41, 0x9a}}); !errors.Is(err, ErrBadMAC) {
		t.Fatalf("forged stamp: err %v, want ErrBadMAC", err)
	}
	if c2.Bad() != 1 || c2.Only("cam-a") == nil {
		t.Fatalf("Bad()=%d, Only=%v", c2.Bad(), c2.Only("cam-a"))
	}
	if err := c2.AccessUnit([][]byte{{0x41, 0x9a}}); err != nil || c2.Unstamped() != 1 {
		t.Fatalf("unstamped unit: err %v, Unstamped %d", err, c2.Unstamped())
	}
}

func TestCheckerSequence(t *testing.T) {
	c := NewChecker(testKeys)
	t0 := time.Now()
	at := func(seq uint64) time.Time { return t0.Add(time.Duration(seq) * time.Second) }
	for _, seq := range []uint64{1, 2, 3, 5, 6, 4, 7, 7, 10, 8} {
		st := StampNALU(testKey("cam"), Stamp{"cam", seq, at(seq)})
		if err := c.AccessUnit([][]byte{st}); err != nil {
			t.Fatal(err)
		}
	}
	got := c.Stats()["cam"]
	// 3->5 gap, 6->4 reorder, 4->7 gap, 7->7 reorder, 7->10 gap, 10->8 reorder.
	if got.Count != 10 || got.MaxSeq != 10 || got.Gaps != 3 || got.Reorders != 3 || !got.First.Equal(at(1)) || !got.Latest.Equal(at(10)) {
		t.Fatalf("stats %+v", got)
	}
}

func TestCheckerFormats(t *testing.T) {
	aus := stampedAUs(t, "cam-f", 100, 9) // 64x48 gop 4: 3 IDRs
	var annexb []byte
	for _, au := range aus {
		// With an AUD in front, as some encoders write.
		annexb = append(annexb, AnnexB(append([][]byte{{0x09, 0xf0}}, au...))...)
	}

	t.Run("annexb", func(t *testing.T) {
		c := NewChecker(testKeys)
		if err := c.AnnexB(annexb); err != nil {
			t.Fatal(err)
		}
		if c.Units() != 9 || c.Counts()["cam-f"] != 9 || c.Unstamped() != 0 {
			t.Fatalf("units %d counts %v unstamped %d", c.Units(), c.Counts(), c.Unstamped())
		}
	})
	t.Run("avcc", func(t *testing.T) {
		c := NewChecker(testKeys)
		for _, au := range aus {
			var s []byte
			for _, n := range au {
				s = binary.BigEndian.AppendUint32(s, uint32(len(n)))
				s = append(s, n...)
			}
			if err := c.AVCC(s); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.Only("cam-f"); err != nil {
			t.Fatal(err)
		}
		if err := c.AVCC([]byte{0, 0, 0, 9, 1}); !errors.Is(err, ErrMalformed) {
			t.Fatalf("short AVCC: %v", err)
		}
	})
	t.Run("rtp", func(t *testing.T) {
		forma := &format.H264{PayloadTyp: 96, PacketizationMode: 1}
		enc, err := forma.CreateEncoder()
		if err != nil {
			t.Fatal(err)
		}
		c := NewChecker(testKeys)
		fragmented := false
		for i, au := range aus {
			pkts, err := enc.Encode(au)
			if err != nil {
				t.Fatal(err)
			}
			fragmented = fragmented || len(pkts) > 1
			for _, p := range pkts {
				p.Timestamp = uint32(i * 9000)
			}
			if err := c.RTP(pkts...); err != nil {
				t.Fatal(err)
			}
		}
		if !fragmented {
			t.Fatal("expected FU-A fragmented IDRs")
		}
		st := c.Stats()["cam-f"]
		if err := c.Only("cam-f"); err != nil || st.Count != 9 || st.MaxSeq != 108 || st.Gaps+st.Reorders != 0 {
			t.Fatalf("Only: %v, stats %+v", err, st)
		}
	})
}

// annexBCases seeds FuzzAnnexB.
func annexBCases(t testing.TB) [][]byte {
	var out [][]byte
	for _, au := range stampedAUs(t, "fz", 1, 3) {
		out = append(out, AnnexB(au))
	}
	st := StampNALU(testKey("fz"), Stamp{"fz", 1, time.Unix(0, 0)})
	out = append(out,
		nil,
		[]byte{0, 0, 1},
		[]byte{0, 0, 0, 1, 6},
		AnnexB([][]byte{st[:len(st)/2]}),
		AnnexB([][]byte{{0x09, 0xf0}, st, {0x65, 0x88}, {0x41, 0x9a}, {0x41, 0x00, 0x9a}}),
		bytes.Repeat([]byte{0, 0, 1, 6, 5}, 4),
	)
	return out
}

func FuzzAnnexB(f *testing.F) {
	for _, b := range annexBCases(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c := NewChecker(testKeys)
		err := c.AnnexB(b)
		total := 0
		for _, n := range c.Counts() {
			total += n
		}
		if total+c.Bad() < c.Units()-c.Unstamped() {
			t.Fatalf("stamped units %d but only %d stamps", c.Units()-c.Unstamped(), total+c.Bad())
		}
		if (err != nil) != (c.Bad() > 0) {
			t.Fatalf("err %v but Bad() = %d", err, c.Bad())
		}
		// Splitting and joining are inverse on the split units.
		nalus := SplitAnnexB(b)
		again := SplitAnnexB(AnnexB(nalus))
		if len(again) != len(nalus) {
			t.Fatalf("re-split %d units, want %d", len(again), len(nalus))
		}
	})
}
