package rtsp

import (
	"fmt"
	"sync"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/pion/rtp"

	"vigil/internal/media"
)

// packetCache packetizes each unit once for all its viewers. The packets'
// payloads and markers are shared read-only; every viewer writes its own
// header (sequence number, timestamp, SSRC). The cache is keyed by the unit
// itself, so a viewer can only get packets of a unit it was handed by its
// own hub reader and passed through the egress check.
type packetCache struct {
	mu       sync.Mutex
	encoders map[encoderKey]encoder        // guarded by mu
	packets  map[*media.Unit][]*rtp.Packet // guarded by mu
	recent   []*media.Unit                 // guarded by mu; cached units, oldest first
	bytes    int                           // guarded by mu; payload bytes of the cached units
}

// The cache only needs to hold what the viewers of each camera are writing
// at about the same moment (they are a frame or two apart, except while one
// replays the GOP, which then packetizes for itself). A miss costs one
// packetization, never correctness.
const (
	packetCacheUnits = 1024
	packetCacheBytes = 8 << 20
)

// maxEncoders bounds the encoders kept (one per publisher session and track).
const maxEncoders = 4096

type encoderKey struct {
	owner media.Owner
	track int
}

func newPacketCache() *packetCache {
	return &packetCache{encoders: map[encoderKey]encoder{}, packets: map[*media.Unit][]*rtp.Packet{}}
}

// get returns u's packets; timestamps are offsets from the unit's PTS.
func (c *packetCache) get(u *media.Unit, f format.Format) ([]*rtp.Packet, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if pkts, ok := c.packets[u]; ok {
		return pkts, nil
	}
	k := encoderKey{u.Owner(), u.Track}
	enc, ok := c.encoders[k]
	if !ok {
		if len(c.encoders) >= maxEncoders {
			clear(c.encoders) // encoders keep no state we use; old sessions' go
		}
		var err error
		if enc, err = newEncoder(f); err != nil {
			return nil, err
		}
		c.encoders[k] = enc
	}
	pkts, err := enc(u)
	if err != nil {
		return nil, err
	}
	for len(c.recent) > 0 && (len(c.recent) >= packetCacheUnits || c.bytes+u.Size() > packetCacheBytes) {
		old := c.recent[0]
		c.recent[0] = nil
		c.recent = c.recent[1:]
		c.bytes -= old.Size()
		delete(c.packets, old)
	}
	c.recent = append(c.recent, u)
	c.bytes += u.Size()
	c.packets[u] = pkts
	return pkts, nil
}

// encoder packetizes one track's units (RFC 6184 for H.264, RFC 7798 for
// H.265, RFC 3640 for AAC, RFC 7587 for Opus, RFC 3551 for G.711).
type encoder func(*media.Unit) ([]*rtp.Packet, error)

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
		e, err := f.CreateEncoder()
		if err != nil {
			return nil, err
		}
		enc = func(u *media.Unit) ([]*rtp.Packet, error) { return e.Encode(u.Payload) }
	case *format.H265:
		e, err := f.CreateEncoder()
		if err != nil {
			return nil, err
		}
		enc = func(u *media.Unit) ([]*rtp.Packet, error) { return e.Encode(u.Payload) }
	case *format.MPEG4Audio:
		e, err := f.CreateEncoder()
		if err != nil {
			return nil, err
		}
		enc = func(u *media.Unit) ([]*rtp.Packet, error) { return e.Encode(u.Payload) }
	case *format.Opus:
		e, err := f.CreateEncoder()
		if err != nil {
			return nil, err
		}
		enc = func(u *media.Unit) ([]*rtp.Packet, error) {
			p, err := e.Encode(u.Payload[0])
			return []*rtp.Packet{p}, err
		}
	case *format.G711:
		e, err := f.CreateEncoder()
		if err != nil {
			return nil, err
		}
		enc = func(u *media.Unit) ([]*rtp.Packet, error) { return e.Encode(u.Payload[0]) }
	default:
		return nil, fmt.Errorf("no packetizer for %T", f)
	}
	return func(u *media.Unit) ([]*rtp.Packet, error) {
		if err := nonEmpty(u); err != nil {
			return nil, err
		}
		return enc(u)
	}, nil
}
