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
// H.265 (RFC 7798) RTP stream and copies every payload byte once, when a
// unit is complete, into one allocation that the unit owns (newUnitBuffer).
// gortsplib's depacketizers copy a fragmented NAL unit into a buffer of
// its own and ingest then copied the unit again; here the packets'
// payloads are referenced until the unit is complete, as gortsplib's own
// depacketizers do (each packet is read into a buffer of its own that the
// library never reuses), and nothing but the unit's buffer and its slice
// headers is allocated per unit.
type depacketizer struct {
	h265    bool
	maxNALs int // per unit

	// pieces are the parts of the unit being assembled, in order: a
	// piece that starts a NAL unit, then its continuations (fragments).
	pieces []piece
	nals   int    // NAL units started in pieces
	size   int    // bytes in pieces
	ts     uint32 // RTP timestamp of the unit being assembled
	pts    int64  // its presentation time (the session's clock units)

	// fu is true while a fragmented NAL unit is open; its pieces begin
	// at fuFirst, and its next fragment must have sequence number fuSeq.
	fu      bool
	fuFirst int
	fuSeq   uint16
	// started is true once a packet that begins a NAL unit arrived: a
	// continuation fragment before it is the normal join mid-stream.
	started bool
}

// piece is part of a NAL unit: hdr[:nh] (a fragmented NAL unit's header,
// rebuilt from the fragmentation header) followed by b (packet payload).
type piece struct {
	hdr   [2]byte
	nh    uint8
	start bool // begins a NAL unit
	b     []byte
}

func (p *piece) len() int { return int(p.nh) + len(p.b) }

// maxKeptPieces bounds the pieces array a depacketizer keeps between units.
const maxKeptPieces = 1024

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
// and its marker the next). The units emitted are owned: nothing refers
// into the packets. An error says why the packet was not used:
// errMorePackets and errNoStart are normal, others are decode errors.
func (d *depacketizer) decode(pkt *rtp.Packet, pts int64, emit emitFunc) error {
	if d.nals > 0 && pkt.Timestamp != d.ts {
		// A camera that leaves the marker bit out ends a unit by
		// starting the next one (as gortsplib's H.264 decoder allows).
		d.abortFU()
		if d.nals > 0 {
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
	if d.nals > d.maxNALs || d.size > h264.MaxAccessUnitSize {
		n, size := d.nals, d.size
		d.reset()
		return fmt.Errorf("access unit of %d NAL units, %d bytes: too big", n, size)
	}
	if !pkt.Marker || d.fu || d.nals == 0 {
		return errMorePackets
	}
	return d.flush(emit)
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
		return d.fragment(pkt, p[1]>>7 != 0, p[1]>>6&1 != 0, [2]byte{p[0]&0xe0 | p[1]&0x1f}, 1, p[2:], true)
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
		hdr := [2]byte{p[0]&0x81 | (p[2]&0x3f)<<1, p[1]}
		return d.fragment(pkt, start, end, hdr, 2, p[3:], false)
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
	d.pieces = append(d.pieces, piece{start: true, b: nal})
	d.nals++
	d.size += len(nal)
	d.started = true
}

// aggregate adds the NAL units of an aggregation packet (STAP-A, AP): a
// 16-bit size before each. A malformed packet adds nothing. H.264 allows
// zero padding after the last one.
func (d *depacketizer) aggregate(p []byte, padding bool) error {
	first := len(d.pieces)
	for len(p) > 0 {
		if len(p) < 2 {
			d.pieces = d.pieces[:first]
			return errors.New("aggregation packet: truncated size")
		}
		n := int(p[0])<<8 | int(p[1])
		p = p[2:]
		if n == 0 && padding && allZero(p) {
			break
		}
		if n == 0 || n > len(p) {
			d.pieces = d.pieces[:first]
			return errors.New("aggregation packet: bad NAL unit size")
		}
		d.pieces = append(d.pieces, piece{start: true, b: p[:n]})
		p = p[n:]
	}
	if len(d.pieces) == first {
		return errors.New("aggregation packet without NAL units")
	}
	for _, pc := range d.pieces[first:] {
		d.nals++
		d.size += len(pc.b)
	}
	d.started = true
	return nil
}

// fragment adds a fragment of a NAL unit (FU-A, FU). A start opens the
// NAL unit (hdr[:nh] is its header); the next fragments must follow in
// sequence, and a lost one drops the NAL unit. H.264 tolerates a start
// that is also the end (cameras send small P-frames so); H.265 does not.
func (d *depacketizer) fragment(pkt *rtp.Packet, start, end bool, hdr [2]byte, nh uint8, data []byte, startEnd bool) error {
	if start {
		d.abortFU()
		if end && !startEnd {
			return errors.New("fragmentation unit with both start and end bits")
		}
		d.fu, d.fuFirst, d.fuSeq, d.started = true, len(d.pieces), pkt.SequenceNumber+1, true
		d.pieces = append(d.pieces, piece{hdr: hdr, nh: nh, start: true, b: data})
		d.nals++
		d.size += int(nh) + len(data)
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
	d.pieces = append(d.pieces, piece{b: data})
	d.size += len(data)
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
	for _, pc := range d.pieces[d.fuFirst:] {
		d.size -= pc.len()
	}
	d.nals--
	clear(d.pieces[d.fuFirst:])
	d.pieces = d.pieces[:d.fuFirst]
	d.fu = false
}

// flush copies the unit's NAL units into one buffer, emits them and
// starts the next unit. A NAL unit that holds Annex B start codes (some
// cameras wrap theirs so) is split at them.
func (d *depacketizer) flush(emit emitFunc) error {
	buf := newUnitBuffer(d.size)
	out := make([][]byte, 0, d.nals)
	at, begin := 0, 0
	for i := range d.pieces {
		pc := &d.pieces[i]
		if pc.start && i > 0 {
			out = appendSplit(out, buf[begin:at:at])
			begin = at
		}
		at += copy(buf[at:], pc.hdr[:pc.nh])
		at += copy(buf[at:], pc.b)
	}
	out = appendSplit(out, buf[begin:at:at])
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

// reset forgets the unit being assembled and the packets it referred to.
func (d *depacketizer) reset() {
	clear(d.pieces)
	if cap(d.pieces) > maxKeptPieces {
		d.pieces = nil
	}
	d.pieces, d.nals, d.size, d.fu = d.pieces[:0], 0, 0, false
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
