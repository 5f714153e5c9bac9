package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"vigil/internal/access"
)

// Errors returned by a Sealer.
var (
	// ErrOpen means sealed data did not open: it was sealed for another
	// device, stream or sequence number, under another master key, or it
	// was altered. The reason is deliberately not told apart.
	ErrOpen = errors.New("seal: sealed data does not open for this device, stream and sequence")
	// ErrMasterKey means the master key given to NewSealer is unusable.
	ErrMasterKey = errors.New("seal: master key must be at least 32 bytes")
	// ErrEpochSecret means the epoch secret given is too short to bind a
	// key to an ownership epoch (the store keeps 32 random bytes).
	ErrEpochSecret = errors.New("seal: epoch secret must be at least 16 bytes")
)

// Overhead is the number of bytes Seal adds to the plaintext: the random
// nonce stored in front and the authentication tag.
const Overhead = 12 + 16

// Sealer seals and opens data cached outside the process's memory
// (invariant 4). Each device has its own AES-256-GCM key per ownership
// epoch, derived from the master key with HKDF-SHA256 (salt "vigil seal
// v2", info the device id and the epoch's secret, each length-prefixed);
// the device, stream and sequence number are the associated data, so data
// sealed for one object opens for no other. The store replaces a device's
// epoch secret when it changes hands, so what was sealed in the old epoch
// no longer opens for anyone (crypto-shredding), even if deleting it
// failed. Nonces are random, stored in front of the ciphertext: a device
// key must seal fewer than 2^32 messages.
//
// A Sealer is safe for concurrent use. It never logs or returns key material.
type Sealer struct {
	master []byte // immutable copy of the master key
}

// hkdfSalt separates Vigil's sealing keys from any other use of the master
// key; changing the format means changing it.
const hkdfSalt = "vigil seal v2"

// minEpochSecret is the shortest epoch secret accepted.
const minEpochSecret = 16

// NewSealer returns a Sealer deriving its keys from master (see
// LoadOrCreateMasterKey). It keeps a copy of master.
func NewSealer(master []byte) (*Sealer, error) {
	if len(master) < MasterKeySize {
		return nil, ErrMasterKey
	}
	return &Sealer{master: append([]byte(nil), master...)}, nil
}

// Seal seals plaintext for the object numbered seq of a device's stream,
// under the key of the device's current ownership epoch, whose secret is
// epoch. The caller must have authenticated the camera as device (at
// ingest or upload): sealing asserts ownership.
func (s *Sealer) Seal(device access.DeviceID, epoch []byte, stream access.StreamID, seq uint64, plaintext []byte) ([]byte, error) {
	aead, err := s.aead(device, epoch)
	if err != nil {
		return nil, err
	}
	return aead.Seal(nil, nil, plaintext, associatedData(device, stream, seq)), nil
}

// Open opens data sealed for the object numbered seq of stream, with the
// key of the grant's device in the epoch whose secret is epoch (the
// device's current one): data sealed for any other device, or in an
// earlier epoch, fails with ErrOpen, so a mis-keyed lookup yields nothing.
// A grant that allows nothing (zero or expired) is refused before any key
// is derived.
func (s *Sealer) Open(g access.Grant, epoch []byte, stream access.StreamID, seq uint64, sealed []byte) ([]byte, error) {
	device := g.Device()
	if err := g.Live(time.Now()); err != nil {
		return nil, fmt.Errorf("seal: open: %w", err)
	}
	aead, err := s.aead(device, epoch)
	if err != nil {
		return nil, err
	}
	plain, err := aead.Open(nil, nil, sealed, associatedData(device, stream, seq))
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}

// aead derives the device's key for the epoch. Derivation costs a few
// HMACs, cheaper than a bounded cache of keys would be to get right (and a
// cache would keep an old epoch's key alive).
func (s *Sealer) aead(device access.DeviceID, epoch []byte) (cipher.AEAD, error) {
	if err := keyInputs(device, epoch); err != nil {
		return nil, err
	}
	info := lengthPrefixed("", []byte(device), epoch)
	key, err := hkdf.Key(sha256.New, s.master, []byte(hkdfSalt), string(info), 32)
	clear(info)
	if err != nil {
		return nil, fmt.Errorf("seal: derive key: %w", err)
	}
	return randomNonceGCM(key)
}

// randomNonceGCM is AES-256-GCM with random nonces under key, which it
// clears: no key material outlives the cipher.
func randomNonceGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	clear(key)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return aead, nil
}

// associatedData encodes device, stream and seq unambiguously: each string
// is length-prefixed, so ("ab","c") and ("a","bc") differ.
func associatedData(device access.DeviceID, stream access.StreamID, seq uint64) []byte {
	ad := make([]byte, 0, 4+len(device)+4+len(stream)+8)
	ad = binary.BigEndian.AppendUint32(ad, uint32(len(device)))
	ad = append(ad, device...)
	ad = binary.BigEndian.AppendUint32(ad, uint32(len(stream)))
	ad = append(ad, stream...)
	return binary.BigEndian.AppendUint64(ad, seq)
}
