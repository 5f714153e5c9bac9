package seal

import (
	"bytes"
	"crypto/cipher"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"vigil/internal/access"
)

// SegmentReader reads a sealed segment's plaintext at any offset, opening
// only the chunks a read touches. It is safe for concurrent use.
type SegmentReader struct {
	r      io.ReaderAt
	aead   cipher.AEAD
	prefix []byte
	chunks int64
	size   int64        // plaintext bytes
	opened atomic.Int64 // chunks opened, for tests and metrics

	mu    sync.Mutex
	cur   int64  // guarded by mu; index of the chunk in plain, -1 if none
	plain []byte // guarded by mu; the last chunk opened, owned by this reader
	// ahead holds the sealed bytes of chunks [aheadFrom, aheadTo), read
	// at once when reads run on from one chunk to the next (see
	// readAhead); last is the chunk opened last, -1 if none. Guarded by mu.
	ahead              []byte
	aheadFrom, aheadTo int64
	last               int64
}

// readAhead is how many chunks are read from the store at once when reads
// run on from one chunk to the next (a download, a player reading on): a
// quarter of the ranged gets, each of which costs the store a request (an
// open and a close of the file on disk). Only the chunks read are opened.
const readAhead = 4

// OpenSegment opens the sealed segment of the grant's device's stream that
// r holds (sealedSize bytes), with the key of the epoch whose secret is
// epoch: one sealed for another device, stream, segment id or start, or in
// another epoch, or cut short, fails with ErrOpen (ErrSegmentFormat if its
// length cannot be a segment's). It opens the last chunk at once, which
// fixes the length; reads open the chunks they touch. A grant that allows
// nothing is refused before any key is derived.
func (s *Sealer) OpenSegment(g access.Grant, epoch []byte, seg Segment, r io.ReaderAt, sealedSize int64) (*SegmentReader, error) {
	if err := g.Live(time.Now()); err != nil {
		return nil, fmt.Errorf("seal: open segment: %w", err)
	}
	chunks, size, err := plainLayout(sealedSize)
	if err != nil {
		return nil, err
	}
	header := make([]byte, SegmentHeader)
	if _, err := r.ReadAt(header, 0); err != nil {
		return nil, fmt.Errorf("seal: read segment header: %w", err)
	}
	if !bytes.Equal(header[:4], segmentMagic) {
		return nil, ErrSegmentFormat
	}
	aead, err := s.segmentAEAD(g.Device(), epoch, seg, header[4:4+segmentSalt])
	if err != nil {
		return nil, err
	}
	sr := &SegmentReader{r: r, aead: aead, prefix: header[4+segmentSalt:], chunks: chunks, size: size, cur: -1, last: -1}
	sr.mu.Lock()
	defer sr.mu.Unlock()
	if err := sr.load(chunks - 1); err != nil {
		return nil, err
	}
	return sr, nil
}

// Size is the segment's plaintext length.
func (sr *SegmentReader) Size() int64 { return sr.size }

// ChunksOpened counts the chunks this reader has opened (authenticated).
func (sr *SegmentReader) ChunksOpened() int64 { return sr.opened.Load() }

// ReadAt implements io.ReaderAt over the plaintext.
func (sr *SegmentReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("seal: negative offset %d", off)
	}
	sr.mu.Lock()
	defer sr.mu.Unlock()
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		if pos >= sr.size {
			return n, io.EOF
		}
		i := pos / SegmentChunk
		if err := sr.load(i); err != nil {
			return n, err
		}
		n += copy(p[n:], sr.plain[pos-i*SegmentChunk:])
	}
	return n, nil
}

// load opens chunk i into sr.plain unless it is there. Caller holds sr.mu.
func (sr *SegmentReader) load(i int64) error {
	if sr.cur == i {
		return nil
	}
	sr.cur = -1
	sealed, err := sr.sealedChunk(i)
	if err != nil {
		return err
	}
	plain, err := sr.aead.Open(sr.plain[:0], chunkNonce(sr.prefix, uint32(i), i == sr.chunks-1), sealed, nil)
	if err != nil {
		return ErrOpen
	}
	sr.plain, sr.cur, sr.last = plain, i, i
	sr.opened.Add(1)
	return nil
}

// chunkLen is the sealed length of chunk i.
func (sr *SegmentReader) chunkLen(i int64) int64 {
	if i == sr.chunks-1 {
		return SegmentHeader + sr.size + sr.chunks*segmentTag - (SegmentHeader + i*sealedChunk)
	}
	return sealedChunk
}

// sealedChunk returns chunk i's sealed bytes: from ahead, or read from the
// store with the readAhead chunks after it when it follows the chunk
// opened last. Caller holds sr.mu; the bytes are valid until the next call.
func (sr *SegmentReader) sealedChunk(i int64) ([]byte, error) {
	if i >= sr.aheadFrom && i < sr.aheadTo {
		off := (i - sr.aheadFrom) * sealedChunk
		return sr.ahead[off : off+sr.chunkLen(i)], nil
	}
	n := int64(1)
	if i == sr.last+1 {
		n = min(readAhead, sr.chunks-i)
	}
	length := (n-1)*sealedChunk + sr.chunkLen(i+n-1)
	if int64(cap(sr.ahead)) < length {
		sr.ahead = make([]byte, length)
	}
	buf := sr.ahead[:length]
	sr.aheadFrom, sr.aheadTo = 0, 0
	if m, err := sr.r.ReadAt(buf, SegmentHeader+i*sealedChunk); m < len(buf) {
		return nil, fmt.Errorf("seal: read segment chunk %d: %w", i, err)
	}
	sr.ahead, sr.aheadFrom, sr.aheadTo = buf, i, i+n
	return buf[:sr.chunkLen(i)], nil
}
