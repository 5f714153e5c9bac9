package seal

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"vigil/internal/access"
)

// Bus sealing: units crossing the NATS bus between nodes (invariant 4).
// Each sender (a camera's publisher session on its home node, a GOP
// bootstrap reply) draws a random salt; its key is HKDF-SHA256 of the
// master key with that salt and, as info, "vigil bus v1", the device, the
// ownership epoch's secret and the stream, each length-prefixed. A frame
// sealed for another device, stream or epoch therefore fails to open.
//
// Nonces are a per-sender counter, not random: a random 96-bit nonce
// limits a key to 2^32 messages (about 500 days of one camera's bus
// traffic), a counter under a per-sender key to 2^64. A fresh salt per
// sender means two senders never share a key, so counters never collide.
//
//	message: "VBS1" | salt (16) | counter (8) | session (8) | seq (8) | AES-256-GCM ciphertext and tag
//
// The associated data is the device and the stream (length-prefixed)
// followed by the whole header, so session and sequence number are bound
// too: a receiver cannot be made to file a unit under another session.
const (
	busSalt = 16
	// BusHeader is the size of a sealed bus message's header.
	BusHeader = 4 + busSalt + 8 + 8 + 8
	// BusOverhead is what BusSealer.Seal adds to the plaintext.
	BusOverhead = BusHeader + 16
	busInfo     = "vigil bus v1"
	// busOpenerKeys bounds the keys an opener keeps: the live sender and a
	// bootstrap reply, with room for a reconnect.
	busOpenerKeys = 4
)

var busMagic = []byte("VBS1")

// ErrBusFormat means bytes are not a sealed bus message at all.
var ErrBusFormat = errors.New("seal: not a sealed bus message (too short or wrong magic)")

// ErrBusExhausted means a bus sealer has sealed 2^64-1 messages; make a new one.
var ErrBusExhausted = errors.New("seal: bus sealer counter exhausted; start a new sender")

// BusSealer seals the units one sender publishes on the bus for one
// device's stream. It is safe for concurrent use.
type BusSealer struct {
	device access.DeviceID
	stream access.StreamID
	salt   []byte
	aead   cipher.AEAD

	mu      sync.Mutex // guards counter
	counter uint64     // last counter used; 0 means none yet
}

// NewBusSealer returns a sealer for a new sender of device's stream in the
// ownership epoch whose secret is epoch. The caller must have
// authenticated the camera as device: sealing asserts ownership.
func (s *Sealer) NewBusSealer(device access.DeviceID, epoch []byte, stream access.StreamID) (*BusSealer, error) {
	salt := make([]byte, busSalt)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("seal: bus salt: %w", err)
	}
	aead, err := s.busAEAD(device, epoch, stream, salt)
	if err != nil {
		return nil, err
	}
	return &BusSealer{device: device, stream: stream, salt: salt, aead: aead}, nil
}

// Seal seals plain as the unit numbered seq of publisher session session.
func (b *BusSealer) Seal(session, seq uint64, plain []byte) ([]byte, error) {
	b.mu.Lock()
	if b.counter == ^uint64(0) {
		b.mu.Unlock()
		return nil, ErrBusExhausted
	}
	b.counter++
	counter := b.counter
	b.mu.Unlock()
	out := make([]byte, BusHeader, BusOverhead+len(plain))
	copy(out, busMagic)
	copy(out[4:], b.salt)
	binary.BigEndian.PutUint64(out[4+busSalt:], counter)
	binary.BigEndian.PutUint64(out[4+busSalt+8:], session)
	binary.BigEndian.PutUint64(out[4+busSalt+16:], seq)
	ad := busAD(b.device, b.stream, out[:BusHeader])
	return b.aead.Seal(out, busNonce(counter), plain, ad), nil
}

// BusOpener opens the bus messages of one device's stream in one epoch,
// from any sender. It keeps the keys of its last few senders, for its own
// lifetime only. It is safe for concurrent use.
type BusOpener struct {
	s      *Sealer
	device access.DeviceID
	stream access.StreamID
	epoch  []byte // a copy

	mu   sync.Mutex // guards keys
	keys []busKey   // most recent last, at most busOpenerKeys
}

type busKey struct {
	salt []byte
	aead cipher.AEAD
}

// NewBusOpener returns an opener for device's stream in the epoch whose
// secret is epoch. Whatever it opens was sealed for exactly that device,
// stream and epoch: the device of what it opens is device, whatever
// subject or address the bytes came by.
func (s *Sealer) NewBusOpener(device access.DeviceID, epoch []byte, stream access.StreamID) (*BusOpener, error) {
	if err := keyInputs(device, epoch); err != nil {
		return nil, err
	}
	return &BusOpener{s: s, device: device, stream: stream, epoch: bytes.Clone(epoch)}, nil
}

// Device is the device whose messages the opener opens.
func (o *BusOpener) Device() access.DeviceID { return o.device }

// Open opens a sealed bus message and returns its session, sequence number
// and plaintext. Anything not sealed for the opener's device, stream and
// epoch fails with ErrOpen; bytes that are no bus message at all with
// ErrBusFormat.
func (o *BusOpener) Open(msg []byte) (session, seq uint64, plain []byte, err error) {
	if len(msg) < BusOverhead || !bytes.Equal(msg[:4], busMagic) {
		return 0, 0, nil, ErrBusFormat
	}
	header := msg[:BusHeader]
	aead, err := o.key(header[4 : 4+busSalt])
	if err != nil {
		return 0, 0, nil, err
	}
	counter := binary.BigEndian.Uint64(header[4+busSalt:])
	plain, err = aead.Open(nil, busNonce(counter), msg[BusHeader:], busAD(o.device, o.stream, header))
	if err != nil {
		return 0, 0, nil, ErrOpen
	}
	session = binary.BigEndian.Uint64(header[4+busSalt+8:])
	seq = binary.BigEndian.Uint64(header[4+busSalt+16:])
	return session, seq, plain, nil
}

// key returns the AEAD for salt, deriving it on a miss. A wrong key is
// derived and kept like a right one: the bound keeps a flood of foreign
// salts from costing more than a derivation each.
func (o *BusOpener) key(salt []byte) (cipher.AEAD, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := len(o.keys) - 1; i >= 0; i-- {
		if bytes.Equal(o.keys[i].salt, salt) {
			return o.keys[i].aead, nil
		}
	}
	aead, err := o.s.busAEAD(o.device, o.epoch, o.stream, salt)
	if err != nil {
		return nil, err
	}
	if len(o.keys) == busOpenerKeys {
		o.keys = append(o.keys[:0], o.keys[1:]...)
	}
	o.keys = append(o.keys, busKey{salt: bytes.Clone(salt), aead: aead})
	return aead, nil
}

// busAEAD derives the key of a bus sender of device's stream in an epoch.
func (s *Sealer) busAEAD(device access.DeviceID, epoch []byte, stream access.StreamID, salt []byte) (cipher.AEAD, error) {
	if err := keyInputs(device, epoch); err != nil {
		return nil, err
	}
	return s.derivedGCM(salt, lengthPrefixed(busInfo, []byte(device), epoch, []byte(stream)))
}

// keyInputs checks what every derived key is bound to.
func keyInputs(device access.DeviceID, epoch []byte) error {
	if device == "" {
		return fmt.Errorf("seal: %w", access.ErrBadDeviceID)
	}
	if len(epoch) < minEpochSecret {
		return ErrEpochSecret
	}
	return nil
}

// lengthPrefixed is prefix followed by each field, length-prefixed, so no
// two lists of fields encode alike.
func lengthPrefixed(prefix string, fields ...[]byte) []byte {
	info := []byte(prefix)
	for _, f := range fields {
		info = binary.BigEndian.AppendUint32(info, uint32(len(f)))
		info = append(info, f...)
	}
	return info
}

// derivedGCM is AES-256-GCM under HKDF-SHA256 of the master key with salt
// and info. It clears info and the key: no key material outlives the cipher.
func (s *Sealer) derivedGCM(salt, info []byte) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, s.master, salt, string(info), 32)
	clear(info)
	if err != nil {
		return nil, fmt.Errorf("seal: derive key: %w", err)
	}
	block, err := aes.NewCipher(key)
	clear(key)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return cipher.NewGCM(block)
}

// busNonce is the 96-bit GCM nonce of a counter: four zero bytes, then the
// counter big-endian.
func busNonce(counter uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 4, 12), counter)
}

// busAD is the associated data of a bus message: device and stream,
// length-prefixed, then the message's header.
func busAD(device access.DeviceID, stream access.StreamID, header []byte) []byte {
	ad := make([]byte, 0, 8+len(device)+len(stream)+len(header))
	ad = binary.BigEndian.AppendUint32(ad, uint32(len(device)))
	ad = append(ad, device...)
	ad = binary.BigEndian.AppendUint32(ad, uint32(len(stream)))
	ad = append(ad, stream...)
	return append(ad, header...)
}

// EpochID identifies the ownership epoch whose secret is epoch, without
// revealing the secret: nodes compare epochs by it (the same camera's
// sessions of one epoch, everywhere), never by time.
func EpochID(epoch []byte) []byte {
	h := sha256.New()
	h.Write([]byte("vigil epoch id v1\x00"))
	h.Write(epoch)
	return h.Sum(nil)[:16]
}
