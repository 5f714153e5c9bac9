// Package backup owns the backup file format: files (the database copy,
// the master key) in a tar stream, encrypted under a passphrase.
//
// The key is derived with Argon2id (RFC 9106; time 3, 64 MiB, 4 lanes, a
// random 16-byte salt; the parameters are stored in the header). The tar
// stream is cut into 64 KiB chunks, each sealed with XChaCha20-Poly1305
// under a 24-byte nonce made of a random 16-byte prefix and the chunk's
// number; the associated data is the whole header plus a byte marking the
// last chunk, so chunks cannot be reordered, dropped, cut off at the end or
// moved to another backup. It knows nothing of Vigil's data directory.
package backup

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"
)

const (
	magic     = "VIGILBAK"
	version   = 1
	chunkSize = 64 << 10
	saltSize  = 16
	prefixLen = 16
	// header: magic, version, time, memory KiB, threads, salt, nonce prefix
	headerSize = len(magic) + 1 + 4 + 4 + 1 + saltSize + prefixLen

	argonTime    = 3
	argonMemory  = 64 << 10 // KiB
	argonThreads = 4
	// maxMemory bounds what a backup's header may ask Read to spend.
	maxMemory = 1 << 20 // KiB: 1 GiB
)

// MinPassphrase is the shortest passphrase accepted.
const MinPassphrase = 10

// File is one file in a backup.
type File struct {
	Name string
	Mode int64 // permission bits, e.g. 0o600
	Data []byte
}

// Write writes files to w, encrypted under passphrase.
func Write(w io.Writer, passphrase []byte, files []File) error {
	if len(passphrase) < MinPassphrase {
		return fmt.Errorf("backup: passphrase must be at least %d characters", MinPassphrase)
	}
	hdr := make([]byte, 0, headerSize)
	hdr = append(hdr, magic...)
	hdr = append(hdr, version)
	hdr = binary.BigEndian.AppendUint32(hdr, argonTime)
	hdr = binary.BigEndian.AppendUint32(hdr, argonMemory)
	hdr = append(hdr, argonThreads)
	random := make([]byte, saltSize+prefixLen)
	if _, err := rand.Read(random); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	hdr = append(hdr, random...)
	if _, err := w.Write(hdr); err != nil {
		return fmt.Errorf("backup: write: %w", err)
	}
	cw, err := newChunkWriter(w, hdr, passphrase)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(cw)
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.Name, Mode: f.Mode, Size: int64(len(f.Data)), Typeflag: tar.TypeReg}); err != nil {
			return fmt.Errorf("backup: %s: %w", f.Name, err)
		}
		if _, err := tw.Write(f.Data); err != nil {
			return fmt.Errorf("backup: %s: %w", f.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return cw.close()
}

// Read decrypts the backup in r and calls fn for each file in it. A wrong
// passphrase or any alteration fails before fn sees the altered part.
func Read(r io.Reader, passphrase []byte, fn func(File) error) error {
	hdr := make([]byte, headerSize)
	if _, err := io.ReadFull(r, hdr); err != nil || string(hdr[:len(magic)]) != magic || hdr[len(magic)] != version {
		return ErrFormat
	}
	cr, err := newChunkReader(r, hdr, passphrase)
	if err != nil {
		return err
	}
	tr := tar.NewReader(cr)
	for {
		th, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return cr.end()
		}
		if err != nil {
			return cr.cause(err)
		}
		var b bytes.Buffer
		if _, err := io.Copy(&b, tr); err != nil {
			return cr.cause(err)
		}
		if err := fn(File{Name: th.Name, Mode: th.Mode, Data: b.Bytes()}); err != nil {
			return err
		}
	}
}

// key derives the AEAD from the header's parameters and salt.
func key(hdr, passphrase []byte) ([]byte, error) {
	p := hdr[len(magic)+1:]
	t, mem, threads := binary.BigEndian.Uint32(p), binary.BigEndian.Uint32(p[4:]), p[8]
	if t == 0 || t > 100 || mem < 8*uint32(threads) || mem > maxMemory || threads == 0 {
		return nil, ErrFormat
	}
	salt := p[9 : 9+saltSize]
	return argon2.IDKey(passphrase, salt, t, mem, threads, chacha20poly1305.KeySize), nil
}
