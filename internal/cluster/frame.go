package cluster

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"vigil/internal/media"
)

// Wire formats of the bus. A unit is encoded (encodeUnit), sealed (package
// seal's bus format, which carries session and sequence number) and cut
// into chunks that fit NATS's max payload:
//
//	chunk: "VBC1" | sender (8) | message (8) | index (2) | count (2) | part of the sealed message
//
// The chunk header is not authenticated: a forged or mixed-up chunk only
// makes the reassembled message fail to open.
const (
	chunkHeader = 4 + 8 + 8 + 2 + 2
	// maxSealed bounds a reassembled sealed message (a unit and its seal).
	maxSealed = 16 << 20
	// maxPartials bounds the senders whose partial messages a subscription
	// keeps at once (a camera's live sender, a bootstrap reply, a
	// reconnect's new sender).
	maxPartials = 4
	unitVersion = 1
)

var chunkMagic = []byte("VBC1")

// errFrame means bytes from the bus are not a chunk or unit this node can
// use; the subscription counts and drops them.
var errFrame = errors.New("cluster: malformed bus frame")

// chunks cuts a sealed message into chunk frames of at most limit bytes.
func chunks(sender, msg uint64, sealed []byte, limit int) ([][]byte, error) {
	part := limit - chunkHeader
	if part <= 0 {
		return nil, fmt.Errorf("cluster: max payload %d leaves no room for a chunk", limit)
	}
	n := max((len(sealed)+part-1)/part, 1)
	if n > 0xffff || len(sealed) > maxSealed {
		return nil, fmt.Errorf("cluster: sealed unit of %d bytes is over the bus limit of %d", len(sealed), maxSealed)
	}
	out := make([][]byte, 0, n)
	for i := range n {
		data := sealed[i*part : min((i+1)*part, len(sealed))]
		f := make([]byte, chunkHeader, chunkHeader+len(data))
		copy(f, chunkMagic)
		binary.BigEndian.PutUint64(f[4:], sender)
		binary.BigEndian.PutUint64(f[12:], msg)
		binary.BigEndian.PutUint16(f[20:], uint16(i))
		binary.BigEndian.PutUint16(f[22:], uint16(n))
		out = append(out, append(f, data...))
	}
	return out, nil
}

// partial is a sealed message being reassembled from one sender's chunks.
type partial struct {
	sender, msg uint64
	next, count uint16
	buf         []byte
}

// assembler reassembles chunks into sealed messages. NATS keeps one
// sender's messages in order, so a chunk out of order means loss (a slow
// consumer's drops): the partial message is dropped. Not safe for
// concurrent use (a NATS subscription delivers one message at a time).
type assembler struct {
	partials []*partial // at most max (maxPartials if 0), oldest first
	max      int
}

// add takes one chunk frame and returns a whole sealed message when f
// completes one, or nil. The returned bytes are the caller's.
func (a *assembler) add(f []byte) ([]byte, error) {
	if len(f) < chunkHeader || !bytes.Equal(f[:4], chunkMagic) {
		return nil, errFrame
	}
	sender := binary.BigEndian.Uint64(f[4:])
	msg := binary.BigEndian.Uint64(f[12:])
	index := binary.BigEndian.Uint16(f[20:])
	count := binary.BigEndian.Uint16(f[22:])
	data := f[chunkHeader:]
	if count == 0 || index >= count {
		return nil, errFrame
	}
	p := a.take(sender)
	if index == 0 {
		p = &partial{sender: sender, msg: msg, count: count}
	} else if p == nil || p.msg != msg || p.next != index || p.count != count {
		return nil, fmt.Errorf("%w: chunk %d/%d of message %d out of order (lost chunks)", errFrame, index, count, msg)
	}
	if len(p.buf)+len(data) > maxSealed {
		return nil, fmt.Errorf("%w: message over %d bytes", errFrame, maxSealed)
	}
	p.buf = append(p.buf, data...)
	p.next++
	if p.next == count {
		if p.buf == nil {
			p.buf = []byte{} // whole but empty: nil means "more to come"
		}
		return p.buf, nil
	}
	a.keep(p)
	return nil, nil
}

// take removes and returns sender's partial message, if any.
func (a *assembler) take(sender uint64) *partial {
	for i, p := range a.partials {
		if p.sender == sender {
			a.partials = append(a.partials[:i], a.partials[i+1:]...)
			return p
		}
	}
	return nil
}

// keep stores p as the newest partial, dropping the oldest past the bound.
func (a *assembler) keep(p *partial) {
	if len(a.partials) == cmp.Or(a.max, maxPartials) {
		a.partials = a.partials[1:]
	}
	a.partials = append(a.partials, p)
}

// encodeUnit encodes what a unit carries besides its owner, session and
// sequence number (those travel in the seal):
//
//	version (1) | track (2) | flags (1, bit 0: keyframe) | pts ns (8) | captured unix ns (8) | count (2) | count × (length (4) | bytes)
func encodeUnit(u *media.Unit) ([]byte, error) {
	if u.Track < 0 || u.Track > 0xffff || len(u.Payload) > 0xffff {
		return nil, fmt.Errorf("cluster: unit with track %d and %d payload parts cannot be encoded", u.Track, len(u.Payload))
	}
	b := make([]byte, 0, 22+4*len(u.Payload)+u.Size())
	b = append(b, unitVersion)
	b = binary.BigEndian.AppendUint16(b, uint16(u.Track))
	var flags byte
	if u.Key {
		flags = 1
	}
	b = append(b, flags)
	b = binary.BigEndian.AppendUint64(b, uint64(u.PTS))
	b = binary.BigEndian.AppendUint64(b, uint64(u.Captured().UnixNano()))
	b = binary.BigEndian.AppendUint16(b, uint16(len(u.Payload)))
	for _, p := range u.Payload {
		b = binary.BigEndian.AppendUint32(b, uint32(len(p)))
		b = append(b, p...)
	}
	return b, nil
}

// decodeUnit decodes an opened unit for owner. owner's device is the one
// whose key opened the seal. The payload parts alias b, which the caller
// must not modify afterwards.
func decodeUnit(owner media.Owner, seq uint64, b []byte) (*media.Unit, error) {
	if len(b) < 22 || b[0] != unitVersion || b[3]&^1 != 0 {
		return nil, fmt.Errorf("%w: unit header", errFrame)
	}
	track := int(binary.BigEndian.Uint16(b[1:]))
	key := b[3] == 1
	pts := time.Duration(binary.BigEndian.Uint64(b[4:]))
	captured := time.Unix(0, int64(binary.BigEndian.Uint64(b[12:])))
	n := int(binary.BigEndian.Uint16(b[20:]))
	b = b[22:]
	payload := make([][]byte, 0, min(n, len(b)/4))
	for range n {
		if len(b) < 4 {
			return nil, fmt.Errorf("%w: unit payload cut short", errFrame)
		}
		l := binary.BigEndian.Uint32(b)
		if uint64(l) > uint64(len(b)-4) {
			return nil, fmt.Errorf("%w: unit payload part of %d bytes past the end", errFrame, l)
		}
		payload = append(payload, b[4:4+l:4+l])
		b = b[4+l:]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the unit's payload", errFrame, len(b))
	}
	return media.NewUnit(owner, seq, track, pts, key, captured, payload), nil
}
