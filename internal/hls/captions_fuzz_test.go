package hls

import (
	"testing"

	"github.com/bluenviron/gohlslib/v2/pkg/codecs"
)

// FuzzMayCarryCaptions: whatever SEI NAL units a camera sends, looking for
// caption messages in them ends without a panic, and finds one whenever
// the unit's first message is of the caption type (4).
func FuzzMayCarryCaptions(f *testing.F) {
	f.Add([]byte{0x06, 0x04, 0x08, 0xb5, 0x00, 0x31, 'G', 'A', '9', '4', 0x03, 0x80}, false)
	f.Add([]byte{0x06, 0x05, 0x10, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0x80}, false)
	f.Add([]byte{0x06, 0xff, 0xff, 0x03, 0x00, 0x00, 0x03, 0x01, 0x80}, false)
	f.Add([]byte{0x4e, 0x01, 0x04, 0x02, 0xb5, 0x00, 0x80}, true)
	f.Add([]byte{0x50, 0x01, 0x04}, true)
	f.Fuzz(func(t *testing.T, nal []byte, hevc bool) {
		var c codecs.Codec = &codecs.H264{}
		body := 1
		if hevc {
			c, body = &codecs.H265{}, 2
		}
		got := mayCarryCaptions(c, [][]byte{nal})
		isSEI := len(nal) > body && (!hevc && nal[0]&0x1f == 6 || hevc && (nal[0]>>1)&0x3f == 39)
		if isSEI && nal[body] == seiT35 && !got {
			t.Errorf("an SEI NAL unit whose first message is of type %d was not found to carry captions: % x", seiT35, nal)
		}
	})
}
