package store

import "errors"

// Errors returned by every store implementation, to be tested with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
)
