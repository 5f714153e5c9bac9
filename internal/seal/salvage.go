package seal

import (
	"bytes"
	"fmt"
	"time"

	"vigil/internal/access"
)

// SalvageSegment returns the plaintext of the whole chunks at the start of
// a sealed segment that was never finished (its writer's process died):
// the chunks that open, in order, under the key of the grant's device and
// the epoch whose secret is epoch, up to the first that does not (cut
// short, or never written). A chunk sealed as the last ends it. Bytes that
// do not open under that name yield nothing: like OpenSegment, salvage
// asserts the object is the named segment's.
func (s *Sealer) SalvageSegment(g access.Grant, epoch []byte, seg Segment, sealed []byte) ([]byte, error) {
	if err := g.Live(time.Now()); err != nil {
		return nil, fmt.Errorf("seal: salvage segment: %w", err)
	}
	if len(sealed) < SegmentHeader || !bytes.Equal(sealed[:4], segmentMagic) {
		return nil, ErrSegmentFormat
	}
	aead, err := s.segmentAEAD(g.Device(), epoch, seg, sealed[4:4+segmentSalt])
	if err != nil {
		return nil, err
	}
	prefix := sealed[4+segmentSalt : SegmentHeader]
	var plain []byte
	rest := sealed[SegmentHeader:]
	for i := uint32(0); len(rest) > segmentTag; i++ {
		n := min(len(rest), sealedChunk)
		if p, err := aead.Open(plain, chunkNonce(prefix, i, false), rest[:n], nil); err == nil && n == sealedChunk {
			plain, rest = p, rest[n:]
			continue
		}
		if p, err := aead.Open(plain, chunkNonce(prefix, i, true), rest[:n], nil); err == nil {
			plain = p
		}
		break
	}
	return plain, nil
}
