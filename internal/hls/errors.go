package hls

import (
	"errors"
	"net/http"
)

// Errors of the HLS output.
var (
	ErrBadVariant  = errors.New("hls: unknown variant")
	ErrNoTracks    = errors.New("hls: the camera offers no track HLS can carry")
	ErrUnsupported = errors.New("hls: the camera's codec is not available in this variant")
	ErrIdle        = errors.New("hls: muxer idle")
	ErrStalled     = errors.New("hls: the camera sent nothing for too long")
	ErrClosed      = errors.New("hls: manager closed")
	ErrNotReady    = errors.New("hls: no picture from the camera yet")
)

// HTTPError keeps what the client sees (Code and Msg) apart from what is
// logged (Err). An empty Msg means the response has no body at all, which is
// what a refused grant gets: not a byte that could tell it anything.
type HTTPError struct {
	Code int
	Msg  string
	Err  error
}

func (e *HTTPError) Error() string {
	if e.Err == nil {
		return http.StatusText(e.Code)
	}
	return e.Err.Error()
}

func (e *HTTPError) Unwrap() error { return e.Err }
