package fmp4

import (
	"encoding/binary"
	"errors"
	"testing"
)

// box is a box of typ around body.
func box(typ string, body ...[]byte) []byte {
	n := 8
	for _, b := range body {
		n += len(b)
	}
	out := binary.BigEndian.AppendUint32(nil, uint32(n))
	out = append(out, typ...)
	for _, b := range body {
		out = append(out, b...)
	}
	return out
}

// moofOf is a moof of two track fragments: track 1 with a version 1 tfdt
// at base1, track 2 with a version 0 tfdt at base2.
func moofOf(base1 uint64, base2 uint32) []byte {
	mfhd := box("mfhd", []byte{0, 0, 0, 0, 0, 0, 0, 1})
	traf1 := box("traf", box("tfhd", []byte{0, 0, 0, 0, 0, 0, 0, 1}),
		box("tfdt", append([]byte{1, 0, 0, 0}, binary.BigEndian.AppendUint64(nil, base1)...)))
	traf2 := box("traf", box("tfhd", []byte{0, 0, 0, 0, 0, 0, 0, 2}),
		box("tfdt", append([]byte{0, 0, 0, 0}, binary.BigEndian.AppendUint32(nil, base2)...)))
	return box("moof", mfhd, traf1, traf2)
}

func TestRebase(t *testing.T) {
	shift := func(track uint32) int64 { return map[uint32]int64{1: 90_000, 2: -100}[track] }
	for _, c := range []struct {
		name    string
		moof    []byte
		want    []byte
		wantErr bool
	}{
		{"both versions", moofOf(1000, 500), moofOf(91_000, 400), false},
		{"below zero", moofOf(1000, 50), nil, true},
		{"cut short", moofOf(1000, 500)[:40], nil, true},
		{"not a moof", box("mdat", []byte{1, 2, 3}), nil, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := append([]byte(nil), c.moof...)
			err := Rebase(m, 7, shift)
			if c.wantErr {
				if !errors.Is(err, ErrBadFragment) {
					t.Fatalf("err %v, want ErrBadFragment", err)
				}
				return
			}
			want := append([]byte(nil), c.want...)
			binary.BigEndian.PutUint32(want[20:], 7) // mfhd's sequence number
			if err != nil || string(m) != string(want) {
				t.Fatalf("Rebase: %v\n got %x\nwant %x", err, m, want)
			}
		})
	}
}

// FuzzRebase: whatever a stored moof holds, Rebase returns and never
// writes past it.
func FuzzRebase(f *testing.F) {
	f.Add(moofOf(1000, 500))
	f.Add(moofOf(0, 0)[:33])
	f.Fuzz(func(t *testing.T, b []byte) {
		m := append(make([]byte, 0, len(b)), b...)
		Rebase(m, 1, func(uint32) int64 { return 12345 })
		if len(m) != len(b) {
			t.Fatal("length changed")
		}
	})
}
