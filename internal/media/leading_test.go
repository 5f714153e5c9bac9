package media

import (
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
)

// nal returns an H.265 NAL unit header of type typ (layer 0, temporal id 1).
func nal(typ byte) []byte { return []byte{typ << 1, 1, 0xaf} }

func TestLeadingPicturesOfH265(t *testing.T) {
	hevc := &Track{Kind: Video, Format: &format.H265{PayloadTyp: 96}}
	avc := &Track{Kind: Video, Format: &format.H264{PayloadTyp: 96, PacketizationMode: 1}}
	tests := []struct {
		name           string
		track          *Track
		payload        [][]byte
		leading, refer bool
	}{
		{"CRA with parameter sets", hevc, [][]byte{nal(32), nal(33), nal(34), nal(21)}, false, false},
		{"IDR", hevc, [][]byte{nal(19)}, false, false},
		{"RASL_N", hevc, [][]byte{nal(8)}, true, true},
		{"RASL_R after an SEI", hevc, [][]byte{nal(39), nal(9), nal(9)}, true, true},
		{"RADL_N", hevc, [][]byte{nal(6)}, true, false},
		{"RADL_R", hevc, [][]byte{nal(7)}, true, false},
		{"TRAIL_R", hevc, [][]byte{nal(1)}, false, false},
		{"TSA_N", hevc, [][]byte{nal(2)}, false, false},
		{"no picture", hevc, [][]byte{nal(35), {}}, false, false},
		// H.264: NAL type 8 is a PPS, 1 a non-IDR slice; keys are IDR only.
		{"H.264 slice", avc, [][]byte{{0x41, 0x9a}}, false, false},
		{"H.264 PPS", avc, [][]byte{{0x08 | 0x60, 0xce}}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := NewUnit(Owner{}, 1, 0, 0, false, time.Time{}, tt.payload)
			if got := tt.track.Leading(u); got != tt.leading {
				t.Errorf("Leading = %v, want %v", got, tt.leading)
			}
			if got := tt.track.RefersBeforeKey(u); got != tt.refer {
				t.Errorf("RefersBeforeKey = %v, want %v", got, tt.refer)
			}
		})
	}
}
