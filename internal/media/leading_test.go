package media

import (
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
)

// nal returns an H.265 NAL unit header of type typ (layer 0, temporal id 1).
func nal(typ byte) []byte { return []byte{typ << 1, 1, 0xaf} }

func TestTrailingAndLeadingPicturesOfH265(t *testing.T) {
	hevc := &Track{Kind: Video, Format: &format.H265{PayloadTyp: 96}}
	avc := &Track{Kind: Video, Format: &format.H264{PayloadTyp: 96, PacketizationMode: 1}}
	tests := []struct {
		name            string
		track           *Track
		payload         [][]byte
		trailing, refer bool
	}{
		{"CRA with parameter sets", hevc, [][]byte{nal(32), nal(33), nal(34), nal(21)}, false, false},
		{"IDR", hevc, [][]byte{nal(19)}, false, false},
		{"RASL_N", hevc, [][]byte{nal(8)}, false, true},
		{"RASL_R after an SEI", hevc, [][]byte{nal(39), nal(9), nal(9)}, false, true},
		{"RADL_N", hevc, [][]byte{nal(6)}, false, false},
		{"RADL_R", hevc, [][]byte{nal(7)}, false, false},
		{"TRAIL_N", hevc, [][]byte{nal(0)}, true, false},
		{"TRAIL_R", hevc, [][]byte{nal(1)}, true, false},
		{"TSA_N", hevc, [][]byte{nal(2)}, true, false},
		{"STSA_R", hevc, [][]byte{nal(5)}, true, false},
		{"parameter sets and SEI, no picture", hevc, [][]byte{nal(32), nal(33), nal(34), nal(39), {}}, false, false},
		// H.264: NAL type 8 is a PPS, 1 a non-IDR slice; keys are IDR
		// only, and have no leading pictures: every unit trails.
		{"H.264 slice", avc, [][]byte{{0x41, 0x9a}}, true, false},
		{"H.264 PPS", avc, [][]byte{{0x08 | 0x60, 0xce}}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := NewUnit(Owner{}, 1, 0, 0, false, time.Time{}, tt.payload)
			if got := tt.track.Trailing(u); got != tt.trailing {
				t.Errorf("Trailing = %v, want %v", got, tt.trailing)
			}
			if got := tt.track.RefersBeforeKey(u); got != tt.refer {
				t.Errorf("RefersBeforeKey = %v, want %v", got, tt.refer)
			}
		})
	}
}
