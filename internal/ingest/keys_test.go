package ingest

import (
	"bytes"
	"testing"
)

// TestKeysAreRandomAccessPointsWithoutLeadingReferences pins which pictures
// start a GOP. H.264: IDR pictures only; an I slice with a recovery point
// SEI (open GOP) is not a key, since pictures after it may refer before it.
// H.265: IDR and CRA pictures; the RASL pictures after a CRA, which do
// refer before it, are the hub's to leave out for a reader that starts
// there (hub's leading_test.go).
func TestKeysAreRandomAccessPointsWithoutLeadingReferences(t *testing.T) {
	h265NAL := func(typ byte) []byte { return []byte{typ << 1, 1, 0xaf} }
	tests := []struct {
		name  string
		h265  bool
		nalus [][]byte
		key   bool
	}{
		{"H.264 IDR", false, [][]byte{{0x65, 0x88}}, true},
		{"H.264 I slice after a recovery point SEI", false, [][]byte{{0x06, 0x06, 0x01, 0xc4, 0x80}, {0x41, 0x88}}, false},
		{"H.264 P slice", false, [][]byte{{0x41, 0x9a}}, false},
		{"H.265 IDR_W_RADL", true, [][]byte{h265NAL(19)}, true},
		{"H.265 IDR_N_LP", true, [][]byte{h265NAL(20)}, true},
		{"H.265 CRA", true, [][]byte{h265NAL(21)}, true},
		{"H.265 RASL", true, [][]byte{h265NAL(8)}, false},
		{"H.265 TRAIL_R", true, [][]byte{h265NAL(1)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &videoParams{h265: tt.h265, sps: bytes.Clone(testSPS), pps: bytes.Clone(testPPS)}
			if tt.h265 {
				v.vps, v.sps, v.pps = []byte{0x40, 0x01, 0x0c}, []byte{0x42, 0x01, 0x01}, []byte{0x44, 0x01, 0xc1}
			}
			if _, key := v.unit(tt.nalus); key != tt.key {
				t.Fatalf("key = %v, want %v", key, tt.key)
			}
		})
	}
}
