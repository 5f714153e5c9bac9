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
	if secrets == nil {
		return "", fmt.Errorf("device %s: source: %w", id, ErrNoSecrets)
	}
	b, err := secrets.Seal(sourceLabel(id), []byte(src.Reveal()))
	if err != nil {
		return "", fmt.Errorf("device %s: seal source: %w", id, err)
	}
	return SealedPrefix + base64.RawStdEncoding.EncodeToString(b), nil
}

// OpenSource returns the source a column value holds.
func OpenSource(secrets Secrets, id access.DeviceID, col string) (config.Secret, error) {
	rest, sealed := strings.CutPrefix(col, SealedPrefix)
	if !sealed {
		return config.Secret(col), nil // empty, or in clear until the store seals it
	}
	if secrets == nil {
		return "", fmt.Errorf("device %s: source: %w", id, ErrNoSecrets)
	}
	b, err := base64.RawStdEncoding.DecodeString(rest)
	if err == nil {
		b, err = secrets.Open(sourceLabel(id), b)
	}
	if err != nil {
		return "", fmt.Errorf("device %s: open source: %w", id, err)
	}
	return config.Secret(b), nil
}
