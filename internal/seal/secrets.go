package seal

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
)

// ErrSecretOpen means a sealed secret did not open: another master key,
// another label, or altered bytes.
var ErrSecretOpen = errors.New("seal: secret does not open with this master key; restore the master key the data was sealed with")

// secretsSalt separates the key for secrets at rest from the per-device
// media keys derived from the same master key.
const secretsSalt = "vigil secrets v1"

// Secrets seals small configuration secrets kept at rest (a pull camera's
// URL with its password) under a key derived from the master key with
// HKDF-SHA256 (salt "vigil secrets v1"), AES-256-GCM with a random nonce.
// The label (e.g. the column and row id) is the associated data, so a
// sealed value copied to another row does not open.
//
// Unlike media keys, this key does not change when a camera changes hands:
// the URL belongs to the camera, not to an owner's epoch.
type Secrets struct {
	aead cipher.AEAD
}

// NewSecrets returns Secrets keyed from master.
func NewSecrets(master []byte) (*Secrets, error) {
	if len(master) < MasterKeySize {
		return nil, ErrMasterKey
	}
	key, err := hkdf.Key(sha256.New, master, []byte(secretsSalt), "store secrets", 32)
	if err != nil {
		return nil, fmt.Errorf("seal: derive secrets key: %w", err)
	}
	aead, err := randomNonceGCM(key)
	if err != nil {
		return nil, err
	}
	return &Secrets{aead: aead}, nil
}

// Seal seals plain under label.
func (s *Secrets) Seal(label string, plain []byte) ([]byte, error) {
	return s.aead.Seal(nil, nil, plain, []byte(label)), nil
}

// Open opens what Seal sealed under the same label.
func (s *Secrets) Open(label string, sealed []byte) ([]byte, error) {
	plain, err := s.aead.Open(nil, nil, sealed, []byte(label))
	if err != nil {
		return nil, ErrSecretOpen
	}
	return plain, nil
}
