package webrtc

import (
	"fmt"
	"slices"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtplpcm"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtpsimpleaudio"
	"github.com/pion/rtp"

	"vigil/internal/media"
	"vigil/internal/media/unitcache"
)

// payloadMax bounds an RTP payload so that a packet with its header and
// SRTP tag fits the 1280-byte IPv6 minimum MTU with room for tunnels, as
// pion's own packetizers do (1200 bytes of RTP).
const payloadMax = 1200 - 12

// codec is a payload format the server sends.
type codec int

const (
	codecH264 codec = iota // RFC 6184, packetization mode 1
	codecOpus              // RFC 7587
	codecG711              // RFC 3551, PCMU or PCMA
)

// packetizer cuts units into RTP packets once for every session of a
// server. The viewers of a camera ask for the same units at about the same
// moment, so each unit is packetized once, and the payloads that sessions
// keep for NACK retransmissions are shared rather than held once per
// viewer. The packets are read-only: a session writes each with a header
// of its own (sequence number, timestamp, SSRC, payload type). Payloads
// of NAL units that fit one packet are the unit's own bytes, not copies.
//
// The cache is keyed by the unit itself (see unitcache), so a session can
// only get the packets of a unit that its own reader handed it and its
// egress check passed.
type packetizer struct {
	cache *unitcache.Cache[[]*rtp.Packet]
	// encode packetizes per codec. Encoders number their packets, which
	// sessions do again, so one of each serves every camera; they run
	// under the cache's lock, one unit at a time.
	encode [3]func(*media.Unit) ([]*rtp.Packet, error)
}

// The cache holds what a camera's viewers are writing at about the same
// moment; a viewer replaying the GOP on joining packetizes for itself.
const (
	packetCacheUnits = 1024
	packetCacheBytes = 8 << 20
	packetCacheAge   = time.Second
)

func newPacketizer() (*packetizer, error) {
	h264 := &rtph264.Encoder{PacketizationMode: 1, PayloadMaxSize: payloadMax}
	opus := &rtpsimpleaudio.Encoder{PayloadMaxSize: payloadMax}
	g711 := &rtplpcm.Encoder{BitDepth: 8, ChannelCount: 1, PayloadMaxSize: payloadMax}
	for _, err := range []error{h264.Init(), opus.Init(), g711.Init()} {
		if err != nil {
			return nil, fmt.Errorf("webrtc: packetizer: %w", err)
		}
	}
	p := &packetizer{cache: unitcache.New[[]*rtp.Packet](packetCacheUnits, packetCacheBytes, packetCacheAge)}
	p.encode[codecH264] = func(u *media.Unit) ([]*rtp.Packet, error) { return h264.Encode(u.Payload) }
	p.encode[codecOpus] = func(u *media.Unit) ([]*rtp.Packet, error) {
		pkt, err := opus.Encode(u.Payload[0])
		return []*rtp.Packet{pkt}, err
	}
	p.encode[codecG711] = func(u *media.Unit) ([]*rtp.Packet, error) { return g711.Encode(u.Payload[0]) }
	return p, nil
}

// get returns u's packets in codec c; their timestamps are offsets from
// the unit's PTS. Empty units, or units with an empty NAL unit or frame,
// have none.
func (p *packetizer) get(u *media.Unit, c codec) ([]*rtp.Packet, error) {
	if len(u.Payload) == 0 || slices.ContainsFunc(u.Payload, func(b []byte) bool { return len(b) == 0 }) {
		return nil, nil // the encoders cannot packetize an empty NAL unit or frame
	}
	pkts, err := p.cache.Get(u, func() ([]*rtp.Packet, error) { return p.encode[c](u) })
	if err != nil {
		return nil, fmt.Errorf("webrtc: packetize unit %d: %w", u.Seq, err)
	}
	return pkts, nil
}
