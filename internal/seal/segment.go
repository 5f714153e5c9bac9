package seal

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"vigil/internal/access"
)

// Sealed segments: large objects (recorded video) sealed in chunks so that a
// range read opens only the chunks it touches. The construction is STREAM
// (Hoang, Reyhanitabar, Rogaway, Vizár, "Online Authenticated-Encryption
// and its Nonce-Reuse Misuse-Resistance", 2015), as in age and Tink's
// AES-GCM-HKDF streaming AEAD:
//
//	header: "VSG1" | salt (16 random bytes) | nonce prefix (7 random bytes)
//	chunk i: AES-256-GCM(key, nonce = prefix | i (uint32 BE) | last (1 byte), plaintext[i])
//
// Every chunk but the last holds SegmentChunk bytes of plaintext; the last
// is sealed with the last flag set, so cutting an object at a chunk
// boundary (or anywhere) makes it fail to open, and chunks cannot be
// reordered. The key is HKDF-SHA256 of the master key with the header's
// salt and, as info, the device, the ownership epoch's secret, the stream,
// the segment's id and its start: an object opened under any other name
// (another camera's, another epoch's, another segment's) fails to open.
const (
	// SegmentChunk is the plaintext size of a sealed segment's chunks.
	SegmentChunk = 64 << 10
	segmentTag   = 16
	segmentSalt  = 16
	noncePrefix  = 7
	// SegmentHeader is the size of a sealed segment's header.
	SegmentHeader = 4 + segmentSalt + noncePrefix
	sealedChunk   = SegmentChunk + segmentTag
)

var segmentMagic = []byte("VSG1")

// segmentInfo separates segment keys from every other key derived from the
// master key; changing the format means changing it.
const segmentInfo = "vigil segment v1"

// Segment names a sealed segment of a device's stream; its key is derived
// from all of it, so the name is checked by opening.
type Segment struct {
	Stream access.StreamID
	// ID is unique among the stream's segments.
	ID uint64
	// Start is the capture time of the segment's first frame.
	Start time.Time
}

// ErrSegmentFormat means bytes are not a sealed segment at all (too short,
// or not one of its possible lengths).
var ErrSegmentFormat = errors.New("seal: not a sealed segment (too short or cut off)")

// SealedSize is the size of a sealed segment holding plain bytes.
func SealedSize(plain int64) int64 {
	chunks := max((plain+SegmentChunk-1)/SegmentChunk, 1)
	return SegmentHeader + plain + chunks*segmentTag
}

// plainLayout returns the number of chunks and plaintext bytes of a sealed
// segment of size bytes.
func plainLayout(size int64) (chunks, plain int64, err error) {
	payload := size - SegmentHeader
	if payload < segmentTag {
		return 0, 0, ErrSegmentFormat
	}
	chunks = (payload + sealedChunk - 1) / sealedChunk
	if last := payload - (chunks-1)*sealedChunk; last < segmentTag || chunks > 1<<32 {
		return 0, 0, ErrSegmentFormat
	}
	return chunks, payload - chunks*segmentTag, nil
}

// segmentAEAD derives the key of a segment of device's stream in the epoch
// whose secret is epoch, with the header's salt.
func (s *Sealer) segmentAEAD(device access.DeviceID, epoch []byte, seg Segment, salt []byte) (cipher.AEAD, error) {
	if err := keyInputs(device, epoch); err != nil {
		return nil, err
	}
	info := lengthPrefixed(segmentInfo, []byte(device), epoch, []byte(seg.Stream))
	info = binary.BigEndian.AppendUint64(info, seg.ID)
	info = binary.BigEndian.AppendUint64(info, uint64(seg.Start.UnixNano()))
	return s.derivedGCM(salt, info)
}

// chunkNonce is the STREAM nonce of chunk i.
func chunkNonce(prefix []byte, i uint32, last bool) []byte {
	n := make([]byte, 0, noncePrefix+5)
	n = append(n, prefix...)
	n = binary.BigEndian.AppendUint32(n, i)
	if last {
		return append(n, 1)
	}
	return append(n, 0)
}

// SegmentWriter seals a segment as it is written. Close seals the last
// chunk; until then the object is not whole (and does not open).
type SegmentWriter struct {
	w      io.Writer
	header []byte // written before the first chunk; nil once written
	aead   cipher.AEAD
	prefix []byte
	buf    []byte // plaintext of the chunk being filled, sealed in place (room for the tag)
	i      uint32 // index of the chunk being filled
	n      int64  // plaintext bytes written
	err    error  // sticky
}

// NewSegmentWriter returns a writer sealing a segment of device's stream
// into w under the key of the ownership epoch whose secret is epoch. The
// caller must have authenticated the camera as device: sealing asserts
// ownership. The header goes out with the first chunk.
func (s *Sealer) NewSegmentWriter(w io.Writer, device access.DeviceID, epoch []byte, seg Segment) (*SegmentWriter, error) {
	header := make([]byte, SegmentHeader)
	copy(header, segmentMagic)
	if _, err := rand.Read(header[4:]); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	aead, err := s.segmentAEAD(device, epoch, seg, header[4:4+segmentSalt])
	if err != nil {
		return nil, err
	}
	return &SegmentWriter{w: w, header: header, aead: aead, prefix: header[4+segmentSalt:],
		buf: make([]byte, 0, sealedChunk)}, nil
}

// Write seals p's bytes, a chunk at a time.
func (sw *SegmentWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 && sw.err == nil {
		if len(sw.buf) == SegmentChunk {
			sw.seal(false) // more follows: this chunk is not the last
			continue
		}
		k := copy(sw.buf[len(sw.buf):SegmentChunk], p)
		sw.buf = sw.buf[:len(sw.buf)+k]
		p, written, sw.n = p[k:], written+k, sw.n+int64(k)
	}
	return written, sw.err
}

// Size is the number of plaintext bytes written so far.
func (sw *SegmentWriter) Size() int64 { return sw.n }

// Close seals the last chunk. It does not close the underlying writer.
func (sw *SegmentWriter) Close() error {
	if sw.err == nil {
		sw.seal(true)
		if sw.err == nil {
			sw.err = errors.New("seal: segment writer is closed")
			return nil
		}
	}
	return sw.err
}

func (sw *SegmentWriter) seal(last bool) {
	if sw.i == ^uint32(0) {
		sw.err = errors.New("seal: segment too large")
		return
	}
	if sw.header != nil {
		if _, err := sw.w.Write(sw.header); err != nil {
			sw.err = fmt.Errorf("seal: write segment header: %w", err)
			return
		}
		sw.header = nil
	}
	// Sealed in place (cipher.AEAD allows plaintext[:0] as dst): one
	// buffer a segment being recorded, not two; io.Writer does not keep p.
	out := sw.aead.Seal(sw.buf[:0], chunkNonce(sw.prefix, sw.i, last), sw.buf, nil)
	if _, err := sw.w.Write(out); err != nil {
		sw.err = fmt.Errorf("seal: write segment: %w", err)
		return
	}
	sw.buf = out[:0]
	sw.i++
}
