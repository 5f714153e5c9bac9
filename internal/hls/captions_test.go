package hls

import (
	"bytes"
	"strings"
	"testing"

	"github.com/bluenviron/gohlslib/v2/pkg/codecs"

	"vigil/internal/access"
)

// sei is an SEI RBSP of messages (type, payload), then the trailing bits.
func sei(msgs ...any) []byte {
	var b []byte
	value := func(v int) {
		for ; v >= 255; v -= 255 {
			b = append(b, 0xff)
		}
		b = append(b, byte(v))
	}
	for i := 0; i < len(msgs); i += 2 {
		p := msgs[i+1].([]byte)
		value(msgs[i].(int))
		value(len(p))
		b = append(b, p...)
	}
	return append(b, 0x80)
}

// TestMayCarryCaptions: an access unit carries captions when an SEI NAL
// unit of it holds a user_data_registered_itu_t_t35 message (type 4), in
// any position, after messages whose type or size takes 0xFF bytes; a
// user_data_unregistered message (type 5, the sim's stamps), a slice whose
// bytes hold a 4 or a cut message do not.
func TestMayCarryCaptions(t *testing.T) {
	t.Parallel()
	ga94 := []byte{0xb5, 0x00, 0x31, 'G', 'A', '9', '4', 0x03}
	long := bytes.Repeat([]byte{0x11}, 300) // size coded as 0xFF, 45
	h264, h265 := &codecs.H264{}, &codecs.H265{}
	for _, c := range []struct {
		name  string
		codec codecs.Codec
		au    [][]byte
		want  bool
	}{
		{"h264 t35", h264, [][]byte{{0x09, 0xf0}, append([]byte{0x06}, sei(4, ga94)...), {0x65, 0x88}}, true},
		{"h264 t35 after a long unregistered", h264, [][]byte{append([]byte{0x06}, sei(5, long, 4, ga94)...)}, true},
		{"h264 type 259 is not 4", h264, [][]byte{append([]byte{0x06}, sei(259, ga94)...)}, false},
		{"h264 unregistered only", h264, [][]byte{append([]byte{0x06}, sei(5, long)...), {0x65, 0x04, 0x04}}, false},
		{"h264 message cut short", h264, [][]byte{append([]byte{0x06}, sei(5, long)[:20]...)}, false},
		{"h264 slice with 4s", h264, [][]byte{{0x65, 0x04, 0x04, 0x04}}, false},
		{"h265 prefix t35", h265, [][]byte{append([]byte{39 << 1, 1}, sei(4, ga94)...)}, true},
		{"h265 suffix t35", h265, [][]byte{append([]byte{40 << 1, 1}, sei(4, ga94)...)}, true},
		{"h265 unregistered", h265, [][]byte{append([]byte{39 << 1, 1}, sei(5, ga94)...)}, false},
		{"h265 unit with an h264 SEI header", h265, [][]byte{append([]byte{0x06, 1}, sei(4, ga94)...)}, false},
	} {
		if got := mayCarryCaptions(c.codec, c.au); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// TestClosedCaptionsNone: a multivariant playlist whose streams carry no
// captions says CLOSED-CAPTIONS=NONE on every variant (Shaka Player
// otherwise loads three whole segments to look for them before it starts),
// and one with a stream that may carry them says it on none (§4.3.4.2:
// NONE on one variant must be on all).
func TestClosedCaptionsNone(t *testing.T) {
	t.Parallel()
	entries := func(captions bool) []streamEntry {
		return []streamEntry{
			{stream: access.StreamSub, bandwidth: 600_000, codecs: []string{"avc1.42c01e"}},
			{stream: access.StreamMain, bandwidth: 4_000_000, codecs: []string{"avc1.640028"}, captions: captions},
		}
	}
	for _, v := range []Variant{VariantLL, VariantFMP4, VariantTS} {
		for _, captions := range []bool{false, true} {
			b := multivariantPlaylist(entries(captions), v, "token=T")
			pl, err := parseMultivariant(b)
			if err != nil || len(pl.variants) != 2 {
				t.Fatalf("%s: %v\n%s", v, err, b)
			}
			for _, vs := range pl.variants {
				cc, ok := vs.attrs["CLOSED-CAPTIONS"]
				switch {
				case !captions && cc != "NONE":
					t.Errorf("%s, no captions: %s has CLOSED-CAPTIONS %q, want NONE", v, vs.uri, cc)
				case captions && ok:
					t.Errorf("%s, captions in main: %s has CLOSED-CAPTIONS %q, want none", v, vs.uri, cc)
				}
			}
			// NONE is an enumerated string: quoted, it would name a group.
			if n := strings.Count(string(b), "CLOSED-CAPTIONS=NONE\n"); !captions && n != 2 {
				t.Errorf("%s: %d unquoted CLOSED-CAPTIONS=NONE ending a variant's attributes, want 2:\n%s", v, n, b)
			}
		}
	}
}
