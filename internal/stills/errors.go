package stills

import (
	"errors"
	"fmt"

	"vigil/internal/hub"
)

// Errors returned by the still service.
var (
	// ErrNotJPEG refuses an upload that is not a well-formed JPEG image.
	ErrNotJPEG = errors.New("stills: upload is not a JPEG image")
	// ErrTooLarge refuses an upload over the size or pixel limit.
	ErrTooLarge = errors.New("stills: upload too large")
	// ErrOffline means there is nothing to show: the camera is offline (or
	// has sent no keyframe yet) and has uploaded no still. It wraps
	// hub.ErrOffline.
	ErrOffline = fmt.Errorf("stills: no still to show: %w", hub.ErrOffline)
	// ErrTooOld means the freshest still is older than Request.MaxAge.
	ErrTooOld = errors.New("stills: the freshest still is older than the maximum age asked for")
	// ErrBadRequest refuses absurd parameters (width, age, rate, stream).
	ErrBadRequest = errors.New("stills: bad request")
	// ErrDecode means a keyframe could not be decoded to a JPEG (in time:
	// a decode that outlives DecodeTimeout is one).
	ErrDecode = errors.New("stills: keyframe decode failed")
	// ErrBusy means the requester's decode queue is full: it already has
	// as many decodes waiting as allowed.
	ErrBusy = errors.New("stills: too many stills being decoded for this user; retry shortly")
)
