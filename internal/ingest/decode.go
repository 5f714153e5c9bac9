// Package ingest owns cameras coming in: it turns the RTP of a camera's
// publish (push) or pull session into owned access units for the hub, and
// keeps pull cameras connected. It knows nothing of viewers or HTTP.
package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/pion/rtp"

	"vigil/internal/hub"
	"vigil/internal/media"
)

// Decoder turns one camera session's RTP packets into hub units.
type Decoder struct {
	pub    *hub.Publisher
	tracks map[format.Format]*trackDecoder
	// Errors counts packets that could not be decoded (garbage, corrupt NAL units).
	Errors uint64
}

type trackDecoder struct {
	index     int
	clockRate int64
	decode    func(*rtp.Packet) ([][]byte, error) // audio
	dep       *depacketizer                       // video
	video     *videoParams                        // nil for audio
}

// NewDecoder returns a decoder writing to pub; pub's tracks must come from TracksOf.
func NewDecoder(pub *hub.Publisher) (*Decoder, error) {
	d := &Decoder{pub: pub, tracks: make(map[format.Format]*trackDecoder)}
	for i, t := range pub.Tracks() {
		td, err := newTrackDecoder(t.Format)
		if err != nil {
			return nil, fmt.Errorf("track %d (%s): %w", i, t.Codec(), err)
		}
		td.index = i
		td.clockRate = int64(t.Format.ClockRate())
		d.tracks[t.Format] = td
	}
	return d, nil
}

func newTrackDecoder(f format.Format) (*trackDecoder, error) {
	switch f := f.(type) {
	case *format.H264:
		if f.PacketizationMode != 0 && f.PacketizationMode != 1 {
			return nil, fmt.Errorf("unsupported packetization mode %d", f.PacketizationMode)
		}
		sps, pps := f.SafeParams()
		return &trackDecoder{dep: newDepacketizer(false), video: &videoParams{h265: false, sps: sps, pps: pps}}, nil
	case *format.H265:
		vps, sps, pps := f.SafeParams()
		return &trackDecoder{dep: newDepacketizer(true), video: &videoParams{h265: true, vps: vps, sps: sps, pps: pps}}, nil
	case *format.MPEG4Audio:
		dec, err := f.CreateDecoder()
		return &trackDecoder{decode: dec.Decode}, err
	case *format.Opus:
		dec, err := f.CreateDecoder()
		return &trackDecoder{decode: single(dec.Decode)}, err
	case *format.G711:
		dec, err := f.CreateDecoder()
		return &trackDecoder{decode: single(dec.Decode)}, err
	}
	return nil, fmt.Errorf("unsupported format %T", f)
}

func single(dec func(*rtp.Packet) ([]byte, error)) func(*rtp.Packet) ([][]byte, error) {
	return func(p *rtp.Packet) ([][]byte, error) {
		b, err := dec(p)
		if err != nil {
			return nil, err
		}
		return [][]byte{b}, nil
	}
}

// Packet decodes one RTP packet whose presentation time is pts (in the
// format's clock units, from the session's global decoder). It returns
// hub.ErrReplaced when a newer session of the camera took over; decode
// errors are counted, not returned: a corrupt packet must not end a camera.
func (d *Decoder) Packet(f format.Format, pkt *rtp.Packet, pts int64) error {
	td := d.tracks[f]
	if td == nil {
		return nil
	}
	if td.dep != nil {
		var werr error // the hub's answer, returned as it is
		err := td.dep.decode(pkt, pts, func(nalus [][]byte, pts int64) error {
			payload, key := td.video.unit(nalus)
			if payload == nil {
				return nil
			}
			werr = d.write(td, pts, key, payload)
			return werr
		})
		if werr != nil {
			return werr
		}
		if err != nil && !errors.Is(err, errMorePackets) && !errors.Is(err, errNoStart) {
			d.Errors++
		}
		return nil
	}
	payload, err := td.decode(pkt)
	if err != nil {
		d.Errors++
		return nil
	}
	return d.write(td, pts, false, own(payload))
}

// Retains reports whether Packet may keep a reference to the payload of a
// packet of f after it returns (gortsplib's audio decoders keep an AU's
// fragments until it is complete): the caller then gives each packet of f
// a buffer of its own. A video track's depacketizer copies what it needs.
func (d *Decoder) Retains(f format.Format) bool {
	td := d.tracks[f]
	return td != nil && td.dep == nil
}

// write publishes an owned payload.
func (d *Decoder) write(td *trackDecoder, pts int64, key bool, payload [][]byte) error {
	ts := media.ClockToDuration(pts, td.clockRate)
	return d.pub.Write(td.index, hub.UnitData{PTS: ts, Key: key, Payload: payload})
}

// own copies payload into one fresh allocation: decoders may reuse their
// buffers, and a published unit must be immutable (invariant 6).
func own(payload [][]byte) [][]byte {
	n := 0
	for _, p := range payload {
		n += len(p)
	}
	buf := newUnitBuffer(n)[:0]
	out := make([][]byte, len(payload))
	for i, p := range payload {
		buf = append(buf, p...)
		out[i] = buf[len(buf)-len(p) : len(buf) : len(buf)]
	}
	return out
}

// videoParams tracks a video track's parameter sets so that every keyframe
// unit carries them and a reader's first picture decodes on its own.
type videoParams struct {
	h265          bool
	vps, sps, pps []byte
}

func (v *videoParams) unit(nalus [][]byte) ([][]byte, bool) {
	var haveVPS, haveSPS, havePPS bool
	valid := nalus
	if slices.ContainsFunc(nalus, func(n []byte) bool { return len(n) == 0 }) {
		valid = slices.DeleteFunc(slices.Clone(nalus), func(n []byte) bool { return len(n) == 0 })
	}
	for _, n := range valid {
		switch v.kind(n) {
		case kindVPS:
			v.vps, haveVPS = keep(v.vps, n), true
		case kindSPS:
			v.sps, haveSPS = keep(v.sps, n), true
		case kindPPS:
			v.pps, havePPS = keep(v.pps, n), true
		}
	}
	if len(valid) == 0 {
		return nil, false
	}
	var random bool
	if v.h265 {
		random = h265.IsRandomAccess(valid)
	} else {
		random = h264.IsRandomAccess(valid)
	}
	if !random {
		return valid, false
	}
	if v.sps == nil || v.pps == nil || v.h265 && v.vps == nil {
		return valid, false // cannot decode on its own yet
	}
	var prefix [][]byte
	if v.h265 && !haveVPS {
		prefix = append(prefix, v.vps)
	}
	if !haveSPS {
		prefix = append(prefix, v.sps)
	}
	if !havePPS {
		prefix = append(prefix, v.pps)
	}
	return append(prefix, valid...), true
}

// keep returns a private copy of n, reusing old when it is the same:
// decoders may reuse the buffers n points into.
func keep(old, n []byte) []byte {
	if bytes.Equal(old, n) {
		return old
	}
	return bytes.Clone(n)
}

type naluKind int

const (
	kindOther naluKind = iota
	kindVPS
	kindSPS
	kindPPS
)

func (v *videoParams) kind(n []byte) naluKind {
	if v.h265 {
		switch h265.NALUType((n[0] >> 1) & 0x3f) {
		case h265.NALUType_VPS_NUT:
			return kindVPS
		case h265.NALUType_SPS_NUT:
			return kindSPS
		case h265.NALUType_PPS_NUT:
			return kindPPS
		}
		return kindOther
	}
	switch h264.NALUType(n[0] & 0x1f) {
	case h264.NALUTypeSPS:
		return kindSPS
	case h264.NALUTypePPS:
		return kindPPS
	}
	return kindOther
}
