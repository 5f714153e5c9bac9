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
	recent   [packetCacheUnits]*media.Unit // guarded by mu; ring of cached units, oldest evicted
	next     int                           // guarded by mu
}

// packetCacheUnits bounds the cache: enough for every viewer of a few
// hundred cameras to find the unit it is writing (readers of one stream
// are at most a frame or two apart, except while they replay the GOP).
const packetCacheUnits = 4096

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
	if old := c.recent[c.next]; old != nil {
		delete(c.packets, old)
	}
	c.recent[c.next] = u
	c.next = (c.next + 1) % len(c.recent)
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
