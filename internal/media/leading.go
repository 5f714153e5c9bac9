package media

import (
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
)

// Leading reports whether u is a leading picture of its GOP: one that
// follows the GOP's key picture in decoding order but precedes it in
// output order (H.265 RADL or RASL). H.265 §7.4.2.2: every leading picture
// of a key picture precedes all its trailing pictures in decoding order, so
// once a trailing picture has passed, no leading picture of that key
// follows. H.264 keys are IDR pictures, which have no leading pictures: it
// is false for every unit of another codec.
func (t *Track) Leading(u *Unit) bool {
	typ, ok := t.h265Picture(u)
	return ok && typ >= h265.NALUType_RADL_N && typ <= h265.NALUType_RASL_R
}

// RefersBeforeKey reports whether u may refer to pictures before its GOP's
// key picture: an H.265 RASL picture (random access skipped leading), which
// follows a CRA key picture. H.265 §8.1.3: when decoding starts at the CRA,
// its RASL pictures are not output and may not decode, since their
// references were never received. A reader that starts at a key picture
// must therefore drop the RASL pictures that follow it; a reader that was
// already reading has their references and keeps them.
func (t *Track) RefersBeforeKey(u *Unit) bool {
	typ, ok := t.h265Picture(u)
	return ok && (typ == h265.NALUType_RASL_N || typ == h265.NALUType_RASL_R)
}

// h265Picture returns the type of u's first VCL NAL unit (every slice of a
// picture has the same type), when t is H.265 video and u holds a picture.
func (t *Track) h265Picture(u *Unit) (h265.NALUType, bool) {
	if _, ok := t.Format.(*format.H265); !ok || t.Kind != Video {
		return 0, false
	}
	for _, n := range u.Payload {
		if len(n) < 2 {
			continue
		}
		if typ := h265.NALUType((n[0] >> 1) & 0x3f); typ < h265.NALUType_VPS_NUT {
			return typ, true
		}
	}
	return 0, false
}
