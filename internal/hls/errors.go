package hls

import "errors"

// Errors of the HLS output. ServeFile and Multivariant write nothing when
// they fail: the caller maps these to a response. ErrRefused and ErrNoFile
// must be answered with a status and no body at all — not a byte that could
// tell a refused client anything.
var (
	ErrBadVariant  = errors.New("hls: unknown variant")
	ErrNoTracks    = errors.New("hls: the camera offers no track HLS can carry")
	ErrUnsupported = errors.New("hls: the camera's codec is not available in this variant")
	ErrIdle        = errors.New("hls: muxer idle")
	ErrStalled     = errors.New("hls: the camera sent nothing for too long")
	ErrClosed      = errors.New("hls: manager closed")
	ErrNotReady    = errors.New("hls: no picture from the camera yet")
	// ErrRefused wraps why the grant does not open what was asked for
	// (expired, revoked, another camera's, isolation check failed).
	ErrRefused = errors.New("hls: refused")
	// ErrNoFile is a file that does not exist, or no longer does.
	ErrNoFile = errors.New("hls: no such file")
	// ErrOffline wraps the hub's reason the camera cannot be read now.
	ErrOffline = errors.New("hls: camera offline")
	// ErrBadRequest is a playlist request whose _HLS_ directives gohlslib
	// refused (RFC 8216bis §6.2.5).
	ErrBadRequest = errors.New("hls: the request's _HLS_ directives are not valid")
)
