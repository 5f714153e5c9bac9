package store

import "errors"

// Errors returned by every store implementation, to be tested with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	// ErrNoSecrets means a secret was to be written or read through a
	// store opened without the master key's secrets.
	ErrNoSecrets = errors.New("store opened without the master key's secrets; open it with the master key's secrets (WithSecrets)")
)
