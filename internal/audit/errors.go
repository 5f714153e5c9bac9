package audit

import "errors"

// ErrUnrecorded is the failure of Start and Seen: the session could not be
// recorded, so the viewer must not be served. It wraps the store's error.
var ErrUnrecorded = errors.New("audit: the viewing session could not be recorded; check the store")

// errShortIDs is a Batcher that returned fewer ids than starts written.
var errShortIDs = errors.New("audit: the store returned fewer session ids than sessions started")
