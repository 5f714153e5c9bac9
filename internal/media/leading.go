package media

import (
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
)

// Trailing reports whether u is a trailing picture: one that follows its
// GOP's key picture in output order as well as in decoding order. H.265
// §7.4.2.2: every leading picture (RADL, RASL) of a key picture precedes
// all its trailing pictures in decoding order, so once a trailing picture
// has passed, no leading picture of that key follows. An H.265 unit
// without a picture (parameter sets, SEI) is not one. For other codecs,
// whose keys have no leading pictures (H.264 keys are IDR pictures), every
// unit is.
func (t *Track) Trailing(u *Unit) bool {
	if !t.isH265() {
		return true
	}
	typ, ok := h265Picture(u)
	return ok && typ < h265.NALUType_RADL_N
}

// RefersBeforeKey reports whether u may refer to pictures before its GOP's
// key picture: an H.265 RASL picture (random access skipped leading), which
// follows a CRA key picture. H.265 §8.1.3: when decoding starts at the CRA,
// its RASL pictures are not output and may not decode, since their
// references were never received. A reader that starts at a key picture
// must therefore drop the RASL pictures that follow it; a reader that was
// already reading has their references and keeps them.
func (t *Track) RefersBeforeKey(u *Unit) bool {
	if !t.isH265() {
		return false
	}
	typ, ok := h265Picture(u)
	return ok && (typ == h265.NALUType_RASL_N || typ == h265.NALUType_RASL_R)
}

func (t *Track) isH265() bool {
	_, ok := t.Format.(*format.H265)
	return ok && t.Kind == Video
}

// h265Picture returns the type of the first VCL NAL unit of u (every slice
// of a picture has the same type), if u holds a picture.
func h265Picture(u *Unit) (h265.NALUType, bool) {
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
