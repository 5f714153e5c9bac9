package backup

import "errors"

// Errors returned by Read, to be tested with errors.Is.
var (
	// ErrFormat means the file is not a Vigil backup, or one from a newer
	// Vigil.
	ErrFormat = errors.New("not a Vigil backup (or one written by a newer Vigil)")
	// ErrPassphrase means the backup did not open: a wrong passphrase, or
	// a file that was altered or cut short after its header.
	ErrPassphrase = errors.New("backup does not open: wrong passphrase, or the file was altered")
	// ErrTruncated means the backup ends before its last chunk.
	ErrTruncated = errors.New("backup is cut short: copy the whole file again")
)
