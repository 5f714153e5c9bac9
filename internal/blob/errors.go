package blob

import "errors"

// Errors returned by every Store.
var (
	// ErrNotFound means no object is stored under the key.
	ErrNotFound = errors.New("blob: no such object")
	// ErrRange means a Get started past the object's end.
	ErrRange = errors.New("blob: range starts past the end of the object")
	// ErrBadKey means a key is not one a Store can hold (see CheckKey).
	ErrBadKey = errors.New("blob: bad key")
)
