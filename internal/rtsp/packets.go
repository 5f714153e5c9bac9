package rtsp

import (
	"fmt"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/pion/rtp"

	"vigil/internal/media"
	"vigil/internal/media/unitcache"
)

// packetCache packetizes each unit once for all its viewers. The packets
// are shared read-only; every viewer writes its own header (sequence
// number, timestamp, SSRC). The cache is keyed by the unit itself (see
// unitcache), so a viewer can only get packets of a unit it was handed by
// its own hub reader and passed through the egress check.
type packetCache struct {
	cache *unitcache.Cache[[]packet]

	mu       sync.Mutex
	encoders map[encoderKey]encoder // guarded by mu
}

// packet is one RTP packet of a unit, without its header: its payload is
// prefix[:np] (a fragmentation unit's header) followed by body, a slice of
// the unit's payload for video (nothing is copied: a unit's payload is
// immutable once published) or a packetizer's output for audio. ts is the
// packet's RTP time as an offset from its unit's.
type packet struct {
	prefix [3]byte
	np     uint8
	marker bool
	pt     uint8
	ts     uint32
	body   []byte
}

// size is the packet's payload size.
func (p *packet) size() int { return int(p.np) + len(p.body) }

// rtp is the packet with its payload joined, at RTP time ts (the unit's),
// for gortsplib's write path (UDP viewers).
func (p *packet) rtp(ts uint32) *rtp.Packet {
	payload := make([]byte, 0, p.size())
	payload = append(append(payload, p.prefix[:p.np]...), p.body...)
	return &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: p.pt, Marker: p.marker, Timestamp: ts + p.ts},
		Payload: payload}
}

// The cache only needs to hold what the viewers of each camera are writing
// at about the same moment (they are a frame or two apart, except while one
// replays the GOP, which then packetizes for itself). A miss costs one
// packetization, never correctness. What is older than packetCacheAge only
// held memory: a 4 Mbit/s camera's viewers kept up to 8 MiB of packets and
// units, and the last viewers' units stayed after they left.
const (
	packetCacheUnits = 1024
	packetCacheBytes = 8 << 20
	packetCacheAge   = time.Second
)

// maxEncoders bounds the encoders kept (one per publisher session and track).
const maxEncoders = 4096

type encoderKey struct {
	owner media.Owner
	track int
}

func newPacketCache() *packetCache {
	return &packetCache{cache: unitcache.New[[]packet](packetCacheUnits, packetCacheBytes, packetCacheAge),
		encoders: map[encoderKey]encoder{}}
}

// get returns u's packets; timestamps are offsets from the unit's PTS.
func (c *packetCache) get(u *media.Unit, f format.Format) ([]packet, error) {
	return c.cache.Get(u, func() ([]packet, error) {
		enc, err := c.encoder(u, f)
		if err != nil {
			return nil, err
		}
		return enc(u)
	})
}

// encoder returns the encoder of u's publisher session and track.
func (c *packetCache) encoder(u *media.Unit, f format.Format) (encoder, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := encoderKey{u.Owner(), u.Track}
	if enc, ok := c.encoders[k]; ok {
		return enc, nil
	}
	if len(c.encoders) >= maxEncoders {
		clear(c.encoders) // encoders keep no state we use; old sessions' go
	}
	enc, err := newEncoder(f)
	if err != nil {
		return nil, err
	}
	c.encoders[k] = enc
	return enc, nil
}

// encoder packetizes one track's units (RFC 6184 for H.264, RFC 7798 for
// H.265, RFC 3640 for AAC, RFC 7587 for Opus, RFC 3551 for G.711).
type encoder func(*media.Unit) ([]packet, error)

// maxPayload is the largest RTP payload sent, as gortsplib's packetizers
// (a 1500-byte MTU less the IP, UDP, RTP and SRTP headers).
const maxPayload = 1450

func newEncoder(f format.Format) (encoder, error) {
	nonEmpty := func(u *media.Unit) error {
		if len(u.Payload) == 0 {
			return fmt.Errorf("empty unit")
		}
		for _, p := range u.Payload {
			if len(p) == 0 {
				return fmt.Errorf("empty NAL unit or frame")
			}
		}
		return nil
	}
	var enc encoder
	switch f := f.(type) {
	case *format.H264:
		if f.PacketizationMode == 1 {
			enc = packetizer(uint8(f.PayloadTyp), fragmentH264)
			break
		}
		e, err := f.CreateEncoder()
		if err != nil {
			return nil, err
		}
		enc = shared(func(u *media.Unit) ([]*rtp.Packet, error) { return e.Encode(u.Payload) })
	case *format.H265:
		enc = packetizer(uint8(f.PayloadTyp), fragmentH265)
	case *format.MPEG4Audio:
		e, err := f.CreateEncoder()
		if err != nil {
			return nil, err
		}
		enc = shared(func(u *media.Unit) ([]*rtp.Packet, error) { return e.Encode(u.Payload) })
	case *format.Opus:
		e, err := f.CreateEncoder()
		if err != nil {
			return nil, err
		}
		enc = shared(func(u *media.Unit) ([]*rtp.Packet, error) {
			p, err := e.Encode(u.Payload[0])
			return []*rtp.Packet{p}, err
		})
	case *format.G711:
		e, err := f.CreateEncoder()
		if err != nil {
			return nil, err
		}
		enc = shared(func(u *media.Unit) ([]*rtp.Packet, error) { return e.Encode(u.Payload[0]) })
	default:
		return nil, fmt.Errorf("no packetizer for %T", f)
	}
	return func(u *media.Unit) ([]packet, error) {
		if err := nonEmpty(u); err != nil {
			return nil, err
		}
		return enc(u)
	}, nil
}

// shared wraps one of gortsplib's packetizers, whose packets are their own.
func shared(enc func(*media.Unit) ([]*rtp.Packet, error)) encoder {
	return func(u *media.Unit) ([]packet, error) {
		pkts, err := enc(u)
		if err != nil {
			return nil, err
		}
		out := make([]packet, len(pkts))
		for i, p := range pkts {
			out[i] = packet{marker: p.Marker, pt: p.PayloadType, ts: p.Timestamp, body: p.Payload}
		}
		return out, nil
	}
}

// packetizer sends each NAL unit of a video unit in a packet of its own
// (RFC 6184 §5.6, RFC 7798 §4.4.1) or, when it is longer than maxPayload,
// in fragmentation units (fragment); the last packet is marked. The
// packets' bodies are slices of the unit's payload. gortsplib's
// packetizers aggregate small NAL units (parameter sets) into one packet
// and copy every payload byte into packets of their own; a viewer of a
// camera of its own paid that copy and three allocations per packet.
func packetizer(pt uint8, fragment func([]packet, []byte, uint8) []packet) encoder {
	return func(u *media.Unit) ([]packet, error) {
		n := 0
		for _, nal := range u.Payload {
			n += 1 + len(nal)/maxPayload
		}
		out := make([]packet, 0, n)
		for _, nal := range u.Payload {
			if len(nal) <= maxPayload {
				out = append(out, packet{pt: pt, body: nal})
				continue
			}
			out = fragment(out, nal, pt)
		}
		out[len(out)-1].marker = true
		return out, nil
	}
}

// fragmentH264 appends nal's FU-A packets (RFC 6184 §5.8): the FU
// indicator carries the NAL unit header's F and NRI bits, the FU header its
// type, and the header itself is not sent.
func fragmentH264(out []packet, nal []byte, pt uint8) []packet {
	return fragment(out, nal[1:], []byte{nal[0]&0xe0 | byte(h264.NALUTypeFUA)}, nal[0]&0x1f, pt)
}

// fragmentH265 appends nal's fragmentation units (RFC 7798 §4.4.3): the
// payload header is the NAL unit header with type 49, the FU header
// carries the type, and the NAL unit header itself is not sent.
func fragmentH265(out []packet, nal []byte, pt uint8) []packet {
	return fragment(out, nal[2:], []byte{nal[0]&0x81 | byte(h265.NALUType_FragmentationUnit)<<1, nal[1]}, nal[0]>>1&0x3f, pt)
}

// fragment appends the fragmentation units of a NAL unit whose header was
// taken off (body): each packet's prefix is head, then the FU header (the
// NAL unit type typ, with the start bit on the first and the end bit on
// the last), then a slice of body.
func fragment(out []packet, body, head []byte, typ byte, pt uint8) []packet {
	np := len(head) + 1
	for start := true; len(body) > 0; start = false {
		n := min(len(body), maxPayload-np)
		p := packet{np: uint8(np), pt: pt, body: body[:n:n]}
		copy(p.prefix[:], head)
		p.prefix[len(head)] = typ
		if start {
			p.prefix[len(head)] |= 0x80
		}
		if n == len(body) {
			p.prefix[len(head)] |= 0x40
		}
		out = append(out, p)
		body = body[n:]
	}
	return out
}
