package cluster

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/sdpunmarshaler"

	"vigil/internal/media"
)

// Besides units, two kinds of sealed message cross the bus for a camera
// stream, told apart by their first plaintext byte (a unit's is
// unitVersion):
//
//	description: 2 | session start, unix ns (8) | SDP of the tracks
//	end:         3
//
// A GOP bootstrap answer starts with the description of the publisher
// session; the end message, on the live subject, says the home node's
// session is over, so remote feeds end at once instead of by silence.
// Both are sealed like units, with the session in the seal.
const (
	kindDescription = 2
	kindEnd         = 3
)

// Description is what a remote node needs to serve a camera stream's
// publisher session besides its units.
type Description struct {
	Owner  media.Owner
	Tracks []*media.Track
	// Start is the wall-clock time of PTS zero of the session.
	Start time.Time
	// Epoch identifies the ownership epoch whose key opened the
	// description (seal.EpochID), on the node that received it.
	Epoch []byte
}

// encodeDescription encodes tracks and start; owner travels in the seal.
func encodeDescription(tracks []*media.Track, start time.Time) ([]byte, error) {
	d := media.Describe(tracks)
	text, err := d.Marshal()
	if err != nil {
		return nil, fmt.Errorf("cluster: describe tracks: %w", err)
	}
	b := make([]byte, 0, 9+len(text))
	b = append(b, kindDescription)
	b = binary.BigEndian.AppendUint64(b, uint64(start.UnixNano()))
	return append(b, text...), nil
}

// decodeDescription decodes an opened description for owner.
func decodeDescription(owner media.Owner, b []byte) (*Description, error) {
	if len(b) < 9 || b[0] != kindDescription {
		return nil, fmt.Errorf("%w: description header", errFrame)
	}
	start := time.Unix(0, int64(binary.BigEndian.Uint64(b[1:])))
	s, err := sdpunmarshaler.Unmarshal(b[9:])
	if err != nil {
		return nil, fmt.Errorf("%w: description: %v", errFrame, err)
	}
	var d description.Session
	if err := d.Unmarshal2(s); err != nil {
		return nil, fmt.Errorf("%w: description: %v", errFrame, err)
	}
	// The receiving node applies the codec allow-list too: a description
	// naming any other format is refused whole (leaving its media out would
	// shift the track numbers the units carry).
	desc := &Description{Owner: owner, Start: start, Tracks: media.TracksOf(&d)}
	if len(desc.Tracks) == 0 || len(desc.Tracks) != len(d.Medias) {
		return nil, fmt.Errorf("%w: description of %d medias, %d of them of an allowed codec", errFrame, len(d.Medias), len(desc.Tracks))
	}
	return desc, nil
}

// message is one opened bus message: a unit, a description or an end.
type message struct {
	unit *media.Unit
	desc *Description
	end  media.Owner // set (non-zero) for an end message
}

// decodeMessage decodes an opened message of owner's session.
func decodeMessage(owner media.Owner, seq uint64, b []byte) (message, error) {
	if len(b) == 0 {
		return message{}, fmt.Errorf("%w: empty message", errFrame)
	}
	switch b[0] {
	case unitVersion:
		u, err := decodeUnit(owner, seq, b)
		return message{unit: u}, err
	case kindDescription:
		d, err := decodeDescription(owner, b)
		return message{desc: d}, err
	case kindEnd:
		if len(b) != 1 {
			return message{}, fmt.Errorf("%w: end message", errFrame)
		}
		return message{end: owner}, nil
	}
	return message{}, fmt.Errorf("%w: message kind %d", errFrame, b[0])
}
