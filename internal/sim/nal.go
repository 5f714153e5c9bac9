package sim

import (
	"encoding/binary"
	"fmt"
)

// bitWriter writes the bit strings of H.264 syntax elements (ITU-T H.264 §7.2),
// most significant bit first.
type bitWriter struct {
	buf  []byte
	cur  byte
	nbit uint // bits used in cur
}

func (w *bitWriter) u(n int, v uint64) {
	for i := n - 1; i >= 0; i-- {
		w.bit(uint8(v>>uint(i)) & 1)
	}
}

func (w *bitWriter) bit(b uint8) {
	w.cur = w.cur<<1 | b
	w.nbit++
	if w.nbit == 8 {
		w.buf = append(w.buf, w.cur)
		w.cur, w.nbit = 0, 0
	}
}

func (w *bitWriter) flag(b bool) {
	if b {
		w.bit(1)
	} else {
		w.bit(0)
	}
}

// ue writes an unsigned Exp-Golomb code (§9.1).
func (w *bitWriter) ue(v uint32) {
	x := uint64(v) + 1
	n := 0
	for t := x; t > 1; t >>= 1 {
		n++
	}
	w.u(n, 0)
	w.u(n+1, x)
}

// se writes a signed Exp-Golomb code (§9.1.1).
func (w *bitWriter) se(v int32) {
	if v > 0 {
		w.ue(uint32(2*v - 1))
	} else {
		w.ue(uint32(-2 * v))
	}
}

func (w *bitWriter) aligned() bool { return w.nbit == 0 }

// alignZero pads with zero bits to the next byte boundary
// (pcm_alignment_zero_bit).
func (w *bitWriter) alignZero() {
	for w.nbit != 0 {
		w.bit(0)
	}
}

// bytes appends whole bytes; the writer must be byte aligned.
func (w *bitWriter) bytes(b []byte) {
	if w.nbit != 0 {
		panic("sim: bitWriter.bytes on unaligned writer")
	}
	w.buf = append(w.buf, b...)
}

// trailing writes rbsp_trailing_bits (§7.3.2.11) and returns the RBSP.
func (w *bitWriter) trailing() []byte {
	w.bit(1)
	w.alignZero()
	return w.buf
}

// addEmulationPrevention returns rbsp with an emulation_prevention_three_byte
// inserted wherever two zero bytes are followed by a byte <= 3 (§7.4.1).
func addEmulationPrevention(dst, rbsp []byte) []byte {
	zeros := 0
	for _, b := range rbsp {
		if zeros >= 2 && b <= 3 {
			dst = append(dst, 3)
			zeros = 0
		}
		dst = append(dst, b)
		if b == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	// §7.4.1: an RBSP ending in 0x0000 (cabac_zero_word) gets a final 0x03.
	if zeros >= 2 {
		dst = append(dst, 3)
	}
	return dst
}

// removeEmulationPrevention returns the RBSP of a NAL unit payload: every
// 0x000003 becomes 0x0000.
func removeEmulationPrevention(ebsp []byte) []byte {
	out := make([]byte, 0, len(ebsp))
	zeros := 0
	for _, b := range ebsp {
		if zeros >= 2 && b == 3 {
			zeros = 0
			continue
		}
		out = append(out, b)
		if b == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	return out
}

// SplitAnnexB splits an Annex-B byte stream into NAL units (without start
// codes). Leading bytes before the first start code and trailing zero bytes
// of each unit are dropped. It never fails; empty units are skipped.
func SplitAnnexB(b []byte) [][]byte {
	var nalus [][]byte
	start := -1
	i := 0
	for i+2 < len(b) {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 {
			if start >= 0 {
				nalus = appendNALU(nalus, b[start:i])
			}
			i += 3
			start = i
			continue
		}
		i++
	}
	if start >= 0 {
		nalus = appendNALU(nalus, b[start:])
	}
	return nalus
}

func appendNALU(nalus [][]byte, n []byte) [][]byte {
	for len(n) > 0 && n[len(n)-1] == 0 {
		n = n[:len(n)-1]
	}
	if len(n) == 0 {
		return nalus
	}
	return append(nalus, n)
}

// AnnexB joins NAL units into an Annex-B byte stream with 4-byte start codes.
func AnnexB(nalus [][]byte) []byte {
	n := 0
	for _, u := range nalus {
		n += 4 + len(u)
	}
	out := make([]byte, 0, n)
	for _, u := range nalus {
		out = append(out, 0, 0, 0, 1)
		out = append(out, u...)
	}
	return out
}

// splitAVCC splits a sample of 4-byte big-endian length-prefixed NAL units.
func splitAVCC(b []byte) ([][]byte, error) {
	var nalus [][]byte
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, fmt.Errorf("%w: AVCC: %d trailing bytes", ErrMalformed, len(b))
		}
		n := binary.BigEndian.Uint32(b)
		b = b[4:]
		if uint64(n) > uint64(len(b)) {
			return nil, fmt.Errorf("%w: AVCC: NAL unit length %d exceeds %d bytes left", ErrMalformed, n, len(b))
		}
		if n > 0 {
			nalus = append(nalus, b[:n])
		}
		b = b[n:]
	}
	return nalus, nil
}

// H.264 NAL unit types used here (Table 7-1).
const (
	naluNonIDR = 1
	naluIDR    = 5
	naluSEI    = 6
	naluSPS    = 7
	naluPPS    = 8
	naluAUD    = 9
)

func naluType(n []byte) int {
	if len(n) == 0 {
		return -1
	}
	return int(n[0] & 0x1f)
}

// firstMBIsZero reports whether a VCL NAL unit's slice starts at macroblock 0,
// that is whether first_mb_in_slice (ue(v), the first syntax element) is 0,
// coded as a single 1 bit.
func firstMBIsZero(n []byte) bool {
	return len(n) > 1 && n[1]&0x80 != 0
}

// auSplitter groups a sequence of H.264 NAL units into access units following
// §7.4.1.2.3: an AUD, SPS, PPS or SEI after a VCL unit, or a VCL unit with
// first_mb_in_slice == 0 after a VCL unit, starts a new access unit.
type auSplitter struct {
	cur    [][]byte
	hasVCL bool
}

// push adds a NAL unit and returns the access unit it completed, if any.
func (s *auSplitter) push(n []byte) [][]byte {
	var done [][]byte
	t := naluType(n)
	boundary := false
	switch {
	case t == naluAUD || t == naluSPS || t == naluPPS || t == naluSEI || (t >= 14 && t <= 18):
		boundary = s.hasVCL
	case t >= 1 && t <= 5:
		boundary = s.hasVCL && firstMBIsZero(n)
	}
	if boundary {
		done = s.cur
		s.cur, s.hasVCL = nil, false
	}
	s.cur = append(s.cur, n)
	if t >= 1 && t <= 5 {
		s.hasVCL = true
	}
	return done
}

// flush returns the pending access unit, if any.
func (s *auSplitter) flush() [][]byte {
	done := s.cur
	s.cur, s.hasVCL = nil, false
	return done
}

// SplitAccessUnits groups NAL units of an H.264 stream into access units.
func SplitAccessUnits(nalus [][]byte) [][][]byte {
	var s auSplitter
	var aus [][][]byte
	for _, n := range nalus {
		if au := s.push(n); au != nil {
			aus = append(aus, au)
		}
	}
	if au := s.flush(); au != nil {
		aus = append(aus, au)
	}
	return aus
}
