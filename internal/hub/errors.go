package hub

import "errors"

// Errors returned by the hub.
var (
	ErrOffline  = errors.New("camera is offline: no publisher for this stream")
	ErrReplaced = errors.New("publisher session replaced by a newer one from the same camera")
	ErrClosed   = errors.New("stream closed")
	ErrNoTracks = errors.New("publisher offered no usable track")
)
