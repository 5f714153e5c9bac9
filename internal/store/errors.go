package store

import "errors"

// Errors returned by every store implementation, to be tested with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	// ErrBusy is a write that waited too long for its turn: the store is
	// overloaded for a moment, nothing was written, the same call may be
	// made again shortly.
	ErrBusy = errors.New("store busy: a write waited too long for its turn")
	// ErrNoSecrets means a secret was to be written or read through a
	// store opened without the master key's secrets.
	ErrNoSecrets = errors.New("store opened without the master key's secrets; open it with the master key's secrets (WithSecrets)")
)
