package store

import (
	"encoding/base64"
	"fmt"
	"strings"

	"vigil/internal/access"
	"vigil/internal/config"
)

// Secrets seals the secrets a store keeps (pull-source URLs with camera
// passwords), so the database alone reveals none of them. seal.Secrets
// implements it.
type Secrets interface {
	Seal(label string, plain []byte) ([]byte, error)
	Open(label string, sealed []byte) ([]byte, error)
}

// SealedPrefix marks a sealed source column (base64 after it); anything
// else non-empty was written in clear by a Vigil before sealing.
const SealedPrefix = "sealed:v1:"

func sourceLabel(id access.DeviceID) string { return "devices.source/" + string(id) }

// SealSource returns what a store's source column holds for src: "" for
// none, otherwise src sealed under secrets (nil: ErrNoSecrets).
func SealSource(secrets Secrets, id access.DeviceID, src config.Secret) (string, error) {
	if src == "" {
		return "", nil
	}
	col, err := SealText(secrets, sourceLabel(id), src.Reveal())
	if err != nil {
		return "", fmt.Errorf("device %s: source: %w", id, err)
	}
	return col, nil
}

// OpenSource returns the source a column value holds.
func OpenSource(secrets Secrets, id access.DeviceID, col string) (config.Secret, error) {
	if !strings.HasPrefix(col, SealedPrefix) {
		return config.Secret(col), nil // empty, or in clear until the store seals it
	}
	plain, err := OpenText(secrets, sourceLabel(id), col)
	if err != nil {
		return "", fmt.Errorf("device %s: source: %w", id, err)
	}
	return config.Secret(plain), nil
}

// SealText returns the column value holding plain sealed under label.
func SealText(secrets Secrets, label, plain string) (string, error) {
	if secrets == nil {
		return "", ErrNoSecrets
	}
	b, err := secrets.Seal(label, []byte(plain))
	if err != nil {
		return "", fmt.Errorf("seal %s: %w", label, err)
	}
	return SealedPrefix + base64.RawStdEncoding.EncodeToString(b), nil
}

// OpenText opens a column value SealText wrote under label.
func OpenText(secrets Secrets, label, col string) (string, error) {
	rest, ok := strings.CutPrefix(col, SealedPrefix)
	if !ok {
		return "", fmt.Errorf("open %s: not a sealed value", label)
	}
	if secrets == nil {
		return "", ErrNoSecrets
	}
	b, err := base64.RawStdEncoding.DecodeString(rest)
	if err == nil {
		b, err = secrets.Open(label, b)
	}
	if err != nil {
		return "", fmt.Errorf("open %s: %w", label, err)
	}
	return string(b), nil
}
