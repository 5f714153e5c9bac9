package fmp4read

import (
	"encoding/binary"
	"errors"
)

// trunFirstSampleFlags is the trun flag of first_sample_flags (ISO/IEC
// 14496-12 §8.8.8), and sampleIsNonSync the sample_is_non_sync_sample bit
// of sample flags (§8.8.3.1).
const (
	trunFirstSampleFlags = 0x000004
	sampleIsNonSync      = 1 << 16
)

var errTrun = errors.New("fmp4read: trun out of bounds")

// trunFirst is what one trun says of its first sample.
type trunFirst struct {
	count   int  // samples in the run
	flagged bool // it carries first_sample_flags
	nonSync bool // and they mark the first sample non-sync
}

// firstSampleFlags lists the truns of the moofs in b in file order, which
// is the order their samples are listed in. mediacommon's parser ignores
// first_sample_flags, with which ffmpeg and others mark a fragment's
// leading keyframe while the defaults say non-sync.
func firstSampleFlags(b []byte) ([]trunFirst, error) {
	var out []trunFirst
	err := eachBox(b, func(typ string, moof []byte) error {
		if typ != "moof" {
			return nil
		}
		return eachBox(moof, func(typ string, traf []byte) error {
			if typ != "traf" {
				return nil
			}
			return eachBox(traf, func(typ string, trun []byte) error {
				if typ != "trun" {
					return nil
				}
				t, err := parseTrunFirst(trun)
				out = append(out, t)
				return err
			})
		})
	})
	return out, err
}

// parseTrunFirst reads a trun's payload: version and flags, sample_count,
// then data_offset and first_sample_flags if present.
func parseTrunFirst(p []byte) (trunFirst, error) {
	if len(p) < 8 {
		return trunFirst{}, errTrun
	}
	flags := binary.BigEndian.Uint32(p) & 0xffffff
	t := trunFirst{count: int(binary.BigEndian.Uint32(p[4:]))}
	off := 8
	if flags&0x000001 != 0 { // data_offset
		off += 4
	}
	if flags&trunFirstSampleFlags != 0 {
		if len(p) < off+4 {
			return trunFirst{}, errTrun
		}
		t.flagged, t.nonSync = true, binary.BigEndian.Uint32(p[off:])&sampleIsNonSync != 0
	}
	return t, nil
}

// eachBox calls f with the type and payload of each box in b, in order;
// b must hold whole boxes.
func eachBox(b []byte, f func(typ string, payload []byte) error) error {
	for len(b) > 0 {
		if len(b) < 8 {
			return ErrBoxSize
		}
		size, hdr := uint64(binary.BigEndian.Uint32(b)), uint64(8)
		if size == 1 && len(b) >= 16 {
			size, hdr = binary.BigEndian.Uint64(b[8:]), 16
		}
		if size < hdr || size > uint64(len(b)) {
			return ErrBoxSize
		}
		if err := f(string(b[4:8]), b[hdr:size]); err != nil {
			return err
		}
		b = b[size:]
	}
	return nil
}
