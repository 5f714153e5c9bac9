package canary

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
)

// maxBox bounds one box read from a live stream.
const maxBox = 64 << 20

var errBoxSize = errors.New("fmp4: box size out of range")

// readFragment reads ISO BMFF boxes (ISO/IEC 14496-12 §4.2) until a moof
// and the mdat after it, and returns the two; other boxes are skipped.
func readFragment(r io.Reader) ([]byte, error) {
	var moof []byte
	for {
		hdr := make([]byte, 8, 16)
		if _, err := io.ReadFull(r, hdr); err != nil {
			return nil, err
		}
		size := uint64(binary.BigEndian.Uint32(hdr))
		if size == 1 { // largesize follows the type
			hdr = hdr[:16]
			if _, err := io.ReadFull(r, hdr[8:]); err != nil {
				return nil, err
			}
			size = binary.BigEndian.Uint64(hdr[8:])
		}
		if size < uint64(len(hdr)) || size > maxBox {
			return nil, fmt.Errorf("%w: %q of %d bytes", errBoxSize, hdr[4:8], size)
		}
		b := make([]byte, size)
		copy(b, hdr)
		if _, err := io.ReadFull(r, b[len(hdr):]); err != nil {
			return nil, err
		}
		switch typ := string(hdr[4:8]); {
		case typ == "moof":
			moof = b
		case typ == "mdat" && moof != nil:
			return append(moof, b...), nil
		}
	}
}

// checkFragment checks every video sample of one or more moof+mdat
// fragments (a segment or part of HLS, a fragment of progressive MP4):
// AVCC with 4-byte lengths (ISO/IEC 14496-15 §5.3.2). Every sample that
// parses as AVCC is checked as video, whatever its track; a sample that
// does not is the cameras' G.711 audio (silence, 0xFF bytes: its "length"
// runs past the sample) on a track that carries no video, and is counted.
func checkFragment(v *Visit, b []byte) error {
	var parts fmp4.Parts
	if err := parts.Unmarshal(b); err != nil {
		return fmt.Errorf("fmp4: %w", err)
	}
	video := map[int]bool{}
	for _, p := range parts {
		for _, t := range p.Tracks {
			for _, s := range t.Samples {
				var au h264.AVCC
				if err := au.Unmarshal(s.Payload); err != nil {
					if video[t.ID] {
						return fmt.Errorf("fmp4: sample: %w", err)
					}
					v.Audio(1)
					continue
				}
				video[t.ID] = true
				if !v.Frame(au) {
					return nil
				}
			}
		}
	}
	return nil
}
