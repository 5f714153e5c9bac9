package datadir

import "errors"

// Errors returned by this package, to be tested with errors.Is.
var (
	// ErrLocked means another process holds the data directory's lock.
	ErrLocked = errors.New("data directory in use")
	// ErrNotEmpty means a restore was aimed at a directory with data in it.
	ErrNotEmpty = errors.New("data directory not empty")
)
