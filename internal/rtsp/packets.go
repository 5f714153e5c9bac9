package rtsp

import (
	"fmt"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/pion/rtp"

	"vigil/internal/media"
	"vigil/internal/media/unitcache"
)

// packetCache packetizes each unit once for all its viewers. The packets'
// payloads and markers are shared read-only; every viewer writes its own
// header (sequence number, timestamp, SSRC). The cache is keyed by the
// unit itself (see unitcache), so a viewer can only get packets of a unit
// it was handed by its own hub reader and passed through the egress check.
type packetCache struct {
	cache *unitcache.Cache[[]*rtp.Packet]

	mu       sync.Mutex
	encoders map[encoderKey]encoder // guarded by mu
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
	return &packetCache{cache: unitcache.New[[]*rtp.Packet](packetCacheUnits, packetCacheBytes, packetCacheAge),
		encoders: map[encoderKey]encoder{}}
}

// get returns u's packets; timestamps are offsets from the unit's PTS.
func (c *packetCache) get(u *media.Unit, f format.Format) ([]*rtp.Packet, error) {
	return c.cache.Get(u, func() ([]*rtp.Packet, error) {
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
