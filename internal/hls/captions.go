package hls

import (
	"github.com/bluenviron/gohlslib/v2/pkg/codecs"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
)

// seiT35 is the SEI payload type user_data_registered_itu_t_t35 (H.264
// Annex D, H.265 Annex D): where CEA-608/708 captions travel in a video
// stream (ATSC A/72 "GA94" user data).
const seiT35 = 4

// mayCarryCaptions reports whether a video access unit of codec c holds an
// SEI message of type user_data_registered_itu_t_t35, the carriage of
// CEA-608/708 closed captions. A stream whose keyframe holds none is
// listed with CLOSED-CAPTIONS=NONE (RFC 8216bis §4.4.6.2), which spares a
// player the media it would otherwise load to look for captions: Shaka
// Player, told nothing, loads the init segment and three whole segments
// of the first variant it plays before its first segment for playback (at
// 800 kbit/s, 1.5 s each).
func mayCarryCaptions(c codecs.Codec, au [][]byte) bool {
	for _, n := range au {
		var body []byte
		switch c.(type) {
		case *codecs.H264:
			if len(n) < 2 || h264.NALUType(n[0]&0x1f) != h264.NALUTypeSEI {
				continue
			}
			body = n[1:]
		case *codecs.H265:
			if len(n) < 3 {
				continue
			}
			if t := h265.NALUType((n[0] >> 1) & 0x3f); t != h265.NALUType_PREFIX_SEI_NUT && t != h265.NALUType_SUFFIX_SEI_NUT {
				continue
			}
			body = n[2:]
		default:
			continue
		}
		if seiHasType(h264.EmulationPreventionRemove(body), seiT35) {
			return true
		}
	}
	return false
}

// seiHasType reports whether the SEI RBSP b (after the NAL unit header)
// holds a message of type want (H.264 §7.3.2.3.1: type and size each coded
// as a run of 0xFF bytes plus a last byte). A message cut short counts as
// present when its type was read.
func seiHasType(b []byte, want int) bool {
	for len(b) > 0 && b[0] != 0x80 { // rbsp_trailing_bits
		var typ, size int
		for len(b) > 0 && b[0] == 0xff {
			typ, b = typ+255, b[1:]
		}
		if len(b) == 0 {
			return false
		}
		typ, b = typ+int(b[0]), b[1:]
		if typ == want {
			return true
		}
		for len(b) > 0 && b[0] == 0xff {
			size, b = size+255, b[1:]
		}
		if len(b) == 0 {
			return false
		}
		size, b = size+int(b[0]), b[1:]
		if size > len(b) {
			return false
		}
		b = b[size:]
	}
	return false
}
