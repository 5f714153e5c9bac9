package ingest

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/pion/rtp"
)

// Depacketizer outcomes that are not decode errors: the unit goes on in the
// next packet, or the stream was joined in the middle of a fragmented NAL unit.
var (
	errMorePackets = errors.New("more packets needed")
	errNoStart     = errors.New("non-starting fragment without a previous start")
)

// depacketizer reassembles the access units of an H.264 (RFC 6184) or
// H.265 (RFC 7798) RTP stream. Each packet's payload is copied as it
// arrives into the unit being assembled, a buffer of the depacketizer's
// own that it reuses and never hands out; a complete unit is copied into
// one allocation of its exact size that the unit owns (newUnitBuffer).
// Nothing refers to a packet after decode returns, so the direct ingest
// reads packets into one buffer it reuses: the copy per packet it made
// before, for the depacketizer to refer to until the unit was complete,
// was half of what 500 cameras allocated (heap profile, 2026-12-03).
type depacketizer struct {
	h265    bool
	maxNALs int // per unit

	// unit is the unit being assembled, starts the offsets in it of its
	// NAL units. Private: nothing outside refers into it. Between units
	// it keeps the room of a usual unit (keep): each camera holds one, so
	// a keyframe's is not kept. typical follows the units' sizes; big is
	// the size of the last unit larger than keep, to grow unit to at once.
	unit         []byte
	typical, big int
	starts       []int
	ts           uint32 // RTP timestamp of the unit being assembled
	pts          int64  // its presentation time (the session's clock units)

	// fu is true while a fragmented NAL unit is open (the last in
	// starts); its next fragment must have sequence number fuSeq.
	fu    bool
	fuSeq uint16
	// started is true once a packet that begins a NAL unit arrived: a
	// continuation fragment before it is the normal join mid-stream.
	started bool
}

// maxKeptStarts bounds the starts array a depacketizer keeps between
// units; minKeptUnit is the least room it keeps for the next unit.
const (
	maxKeptStarts = 1024
	minKeptUnit   = 4 << 10
)

func newDepacketizer(isH265 bool) *depacketizer {
	if isH265 {
		return &depacketizer{h265: true, maxNALs: h265.MaxNALUsPerAccessUnit}
	}
	return &depacketizer{maxNALs: h264.MaxNALUsPerAccessUnit}
}

// emitFunc receives a complete access unit and its presentation time.
type emitFunc func(nalus [][]byte, pts int64) error

// decode takes one packet, presented at pts, and calls emit with every
// access unit it completes (two when the packet's timestamp ends one unit
// and its marker the next). The units emitted are owned, and nothing
// refers to the packet once decode returns. An error says why the packet
// was not used: errMorePackets and errNoStart are normal, others are
// decode errors.
func (d *depacketizer) decode(pkt *rtp.Packet, pts int64, emit emitFunc) error {
	if len(d.starts) > 0 && pkt.Timestamp != d.ts {
		// A camera that leaves the marker bit out ends a unit by
		// starting the next one (as gortsplib's H.264 decoder allows).
		d.abortFU()
		if len(d.starts) > 0 {
			if err := d.flush(emit); err != nil {
				return err
			}
		}
	}
	var err error
	if d.h265 {
		err = d.packet265(pkt)
	} else {
		err = d.packet264(pkt)
	}
	if err != nil {
		return err
	}
	d.ts, d.pts = pkt.Timestamp, pts
	if n, size := len(d.starts), d.size(); n > d.maxNALs || size > h264.MaxAccessUnitSize {
		d.reset()
		return fmt.Errorf("access unit of %d NAL units, %d bytes: too big", n, size)
	}
	if !pkt.Marker || d.fu || len(d.starts) == 0 {
		return errMorePackets
	}
	return d.flush(emit)
}

// size is the bytes of the unit being assembled.
func (d *depacketizer) size() int { return len(d.unit) }

// keep is the room kept for the next unit: half as much again as a
// typical unit (a small camera's P-frames fit in 4 KiB, a 4 Mbit/s one's
// in ~40), never less than minKeptUnit.
func (d *depacketizer) keep() int { return max(minKeptUnit, d.typical+d.typical/2) }

// add appends b to the unit being assembled. A unit that outgrows keep
// (a keyframe) gets a buffer of twice what it needs, or at once of the
// last such unit's size (an eighth more): its bytes are copied into a new
// buffer once or twice, not at every step of append's growth.
func (d *depacketizer) add(b []byte) {
	if n := len(d.unit) + len(b); n > cap(d.unit) {
		size := d.keep()
		if n > size {
			size = max(2*n, d.big+d.big/8)
		}
		d.unit = append(make([]byte, 0, size), d.unit...)
	}
	d.unit = append(d.unit, b...)
}

// packet264 adds an H.264 packet's NAL units (RFC 6184 §5.6-5.8).
func (d *depacketizer) packet264(pkt *rtp.Packet) error {
	p := pkt.Payload
	if len(p) < 1 {
		d.abortFU()
		return errors.New("empty payload")
	}
	switch h264.NALUType(p[0] & 0x1f) {
	case h264.NALUTypeFUA:
		if len(p) < 2 {
			return errors.New("FU-A packet too short")
		}
		// §5.8: the NAL unit header is the FU indicator's F and NRI bits
		// and the FU header's type.
		return d.fragment(pkt, p[1]>>7 != 0, p[1]>>6&1 != 0, []byte{p[0]&0xe0 | p[1]&0x1f}, p[2:], true)
	case h264.NALUTypeSTAPA:
		d.abortFU()
		return d.aggregate(p[1:], true)
	case h264.NALUTypeSTAPB, h264.NALUTypeMTAP16, h264.NALUTypeMTAP24, h264.NALUTypeFUB:
		d.abortFU()
		d.started = true
		return fmt.Errorf("packet type %d not supported", p[0]&0x1f)
	}
	d.abortFU()
	d.single(p)
	return nil
}

// packet265 adds an H.265 packet's NAL units (RFC 7798 §4.4).
func (d *depacketizer) packet265(pkt *rtp.Packet) error {
	p := pkt.Payload
	if len(p) < 2 {
		d.abortFU()
		return errors.New("payload too short")
	}
	switch h265.NALUType(p[0] >> 1 & 0x3f) {
	case h265.NALUType_FragmentationUnit:
		if len(p) < 3 {
			d.abortFU()
			return errors.New("fragmentation unit too short")
		}
		start, end := p[2]>>7 != 0, p[2]>>6&1 != 0
		// §4.4.3: the payload header with the FU header's type.
		return d.fragment(pkt, start, end, []byte{p[0]&0x81 | (p[2]&0x3f)<<1, p[1]}, p[3:], false)
	case h265.NALUType_AggregationUnit:
		d.abortFU()
		return d.aggregate(p[2:], false)
	case h265.NALUType_PACI:
		d.abortFU()
		return errors.New("PACI packets not supported")
	}
	d.abortFU()
	d.single(p)
	return nil
}

// single adds a packet that is one NAL unit.
func (d *depacketizer) single(nal []byte) {
	d.starts = append(d.starts, d.size())
	d.add(nal)
	d.started = true
}

// aggregate adds the NAL units of an aggregation packet (STAP-A, AP): a
// 16-bit size before each. A malformed packet adds nothing. H.264 allows
// zero padding after the last one.
func (d *depacketizer) aggregate(p []byte, padding bool) error {
	first, size := len(d.starts), d.size()
	undo := func(err string) error {
		d.starts = d.starts[:first]
		d.unit = d.unit[:size]
		return errors.New(err)
	}
	for len(p) > 0 {
		if len(p) < 2 {
			return undo("aggregation packet: truncated size")
		}
		n := int(p[0])<<8 | int(p[1])
		p = p[2:]
		if n == 0 && padding && allZero(p) {
			break
		}
		if n == 0 || n > len(p) {
			return undo("aggregation packet: bad NAL unit size")
		}
		d.starts = append(d.starts, d.size())
		d.add(p[:n])
		p = p[n:]
	}
	if len(d.starts) == first {
		return errors.New("aggregation packet without NAL units")
	}
	d.started = true
	return nil
}

// fragment adds a fragment of a NAL unit (FU-A, FU). A start opens the
// NAL unit (hdr is its header); the next fragments must follow in
// sequence, and a lost one drops the NAL unit. H.264 tolerates a start
// that is also the end (cameras send small P-frames so); H.265 does not.
func (d *depacketizer) fragment(pkt *rtp.Packet, start, end bool, hdr, data []byte, startEnd bool) error {
	if start {
		d.abortFU()
		if end && !startEnd {
			return errors.New("fragmentation unit with both start and end bits")
		}
		d.fu, d.fuSeq, d.started = true, pkt.SequenceNumber+1, true
		d.starts = append(d.starts, d.size())
		d.add(hdr)
		d.add(data)
		if end {
			d.fu = false
		}
		return nil
	}
	if !d.fu {
		if !d.started {
			return errNoStart
		}
		return errors.New("continuation fragment without a start")
	}
	if pkt.SequenceNumber != d.fuSeq {
		d.abortFU()
		return errors.New("fragment lost: NAL unit dropped")
	}
	d.fuSeq++
	d.add(data)
	if end {
		d.fu = false
	}
	return nil
}

// abortFU drops an open fragmented NAL unit.
func (d *depacketizer) abortFU() {
	if !d.fu {
		return
	}
	last := len(d.starts) - 1
	d.unit = d.unit[:d.starts[last]]
	d.starts = d.starts[:last]
	d.fu = false
}

// flush copies the unit into a buffer of its own, emits its NAL units and
// starts the next unit. A NAL unit that holds Annex B start codes (some
// cameras wrap theirs so) is split at them.
func (d *depacketizer) flush(emit emitFunc) error {
	buf := newUnitBuffer(len(d.unit))
	copy(buf, d.unit)
	if len(buf) > d.keep() {
		d.big = len(buf)
	}
	d.typical += (len(buf) - d.typical) / 8
	out := make([][]byte, 0, len(d.starts))
	for i, at := range d.starts {
		end := len(buf)
		if i+1 < len(d.starts) {
			end = d.starts[i+1]
		}
		out = appendSplit(out, buf[at:end:end])
	}
	pts := d.pts
	d.reset()
	if len(out) == 0 {
		return errors.New("access unit of start codes only")
	}
	if len(out) > d.maxNALs {
		return fmt.Errorf("access unit of %d NAL units: too many", len(out))
	}
	return emit(out, pts)
}

// reset forgets the unit being assembled.
func (d *depacketizer) reset() {
	if cap(d.starts) > maxKeptStarts {
		d.starts = nil
	}
	if cap(d.unit) > 2*d.keep() { // a keyframe's; not while keep drifts
		d.unit = nil
	}
	d.unit = d.unit[:0]
	d.starts, d.fu = d.starts[:0], false
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

var startCode = []byte{0, 0, 1}

// appendSplit appends nal to out, or its parts between Annex B start codes
// (00 00 01, 00 00 00 01); empty parts are left out. A conforming NAL unit
// never holds 00 00 01 (emulation prevention), so only wrapped ones split.
func appendSplit(out [][]byte, nal []byte) [][]byte {
	for len(nal) > 0 {
		i := bytes.Index(nal, startCode)
		if i < 0 {
			return append(out, nal)
		}
		j := i
		if j > 0 && nal[j-1] == 0 {
			j--
		}
		if j > 0 {
			out = append(out, nal[:j:j])
		}
		nal = nal[i+len(startCode):]
	}
	return out
}
