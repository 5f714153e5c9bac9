package backup

import (
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/chacha20poly1305"
)

// chunk framing: a 4-byte big-endian length, then that many sealed bytes.

func newAEAD(hdr, passphrase []byte) (cipher.AEAD, error) {
	k, err := key(hdr, passphrase)
	if err != nil {
		return nil, err
	}
	defer clear(k)
	aead, err := chacha20poly1305.NewX(k)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	return aead, nil
}

func nonce(hdr []byte, n uint64) []byte {
	nc := make([]byte, 0, chacha20poly1305.NonceSizeX)
	nc = append(nc, hdr[len(hdr)-prefixLen:]...)
	return binary.BigEndian.AppendUint64(nc, n)
}

func ad(hdr []byte, last bool) []byte {
	a := append([]byte(nil), hdr...)
	if last {
		return append(a, 1)
	}
	return append(a, 0)
}

// chunkWriter seals what is written to it in chunks of chunkSize.
type chunkWriter struct {
	w    io.Writer
	hdr  []byte
	aead cipher.AEAD
	buf  []byte
	n    uint64
}

func newChunkWriter(w io.Writer, hdr, passphrase []byte) (*chunkWriter, error) {
	aead, err := newAEAD(hdr, passphrase)
	if err != nil {
		return nil, err
	}
	return &chunkWriter{w: w, hdr: hdr, aead: aead}, nil
}

func (c *chunkWriter) Write(p []byte) (int, error) {
	written := len(p)
	for len(p) > 0 {
		take := min(chunkSize-len(c.buf), len(p))
		c.buf = append(c.buf, p[:take]...)
		p = p[take:]
		// A full chunk is flushed only when more follows, so the last
		// one is always sealed by close with the last-chunk mark.
		if len(c.buf) == chunkSize && len(p) > 0 {
			if err := c.flush(false); err != nil {
				return 0, err
			}
		}
	}
	return written, nil
}

func (c *chunkWriter) flush(last bool) error {
	sealed := c.aead.Seal(nil, nonce(c.hdr, c.n), c.buf, ad(c.hdr, last))
	c.n++
	c.buf = c.buf[:0]
	var l [4]byte
	binary.BigEndian.PutUint32(l[:], uint32(len(sealed)))
	if _, err := c.w.Write(l[:]); err != nil {
		return fmt.Errorf("backup: write: %w", err)
	}
	if _, err := c.w.Write(sealed); err != nil {
		return fmt.Errorf("backup: write: %w", err)
	}
	return nil
}

func (c *chunkWriter) close() error { return c.flush(true) }

// chunkReader opens chunks in order and yields their plaintext.
type chunkReader struct {
	r    io.Reader
	hdr  []byte
	aead cipher.AEAD
	buf  []byte
	n    uint64
	last bool  // the last chunk has been opened
	err  error // the first failure, reported by cause
}

func newChunkReader(r io.Reader, hdr, passphrase []byte) (*chunkReader, error) {
	aead, err := newAEAD(hdr, passphrase)
	if err != nil {
		return nil, err
	}
	return &chunkReader{r: r, hdr: hdr, aead: aead}, nil
}

func (c *chunkReader) Read(p []byte) (int, error) {
	for len(c.buf) == 0 {
		if c.last {
			return 0, io.EOF
		}
		if err := c.next(); err != nil {
			c.err = err
			return 0, err
		}
	}
	n := copy(p, c.buf)
	c.buf = c.buf[n:]
	return n, nil
}

func (c *chunkReader) next() error {
	var l [4]byte
	if _, err := io.ReadFull(c.r, l[:]); err != nil {
		return ErrTruncated
	}
	size := binary.BigEndian.Uint32(l[:])
	if size > chunkSize+uint32(c.aead.Overhead()) {
		return ErrPassphrase
	}
	sealed := make([]byte, size)
	if _, err := io.ReadFull(c.r, sealed); err != nil {
		return ErrTruncated
	}
	nc := nonce(c.hdr, c.n)
	plain, err := c.aead.Open(nil, nc, sealed, ad(c.hdr, false))
	if err != nil {
		if plain, err = c.aead.Open(nil, nc, sealed, ad(c.hdr, true)); err != nil {
			return ErrPassphrase
		}
		c.last = true
	}
	c.n++
	c.buf = plain
	return nil
}

// cause is the chunk layer's error if there was one, else err.
func (c *chunkReader) cause(err error) error {
	if c.err != nil {
		return c.err
	}
	return fmt.Errorf("backup: %w", err)
}

// end checks that the tar stream ended with the last chunk, and that
// nothing follows it.
func (c *chunkReader) end() error {
	if c.err != nil {
		return c.err
	}
	for !c.last {
		if err := c.next(); err != nil {
			return err
		}
	}
	if n, _ := c.r.Read(make([]byte, 1)); n > 0 {
		return errors.New("backup: data after the last chunk; the file was altered")
	}
	return nil
}
