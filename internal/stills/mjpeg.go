package stills

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"vigil/internal/access"
)

// MJPEG rate bounds, in frames per second. Rates below 1 serve poor
// networks (a still every few seconds).
const (
	MinFPS = 0.1
	MaxFPS = 30
)

// MJPEG writes the grant's camera as multipart/x-mixed-replace: one JPEG
// part (with Content-Type and Content-Length headers) fps times a second,
// each taken through Get, so each is checked at egress. While there is
// nothing to show (offline, too old, a failed decode) it writes nothing
// and keeps trying. It returns nil when ctx ends, and an error when a write
// fails or a frame is refused (a mismatched or expired grant): the caller
// ends the response. It sets no HTTP header: the caller sets Content-Type
// with Boundary() before the first write.
func (s *Service) MJPEG(ctx context.Context, w io.Writer, flush func(), g access.Grant, req Request, fps float64) error {
	if math.IsNaN(fps) || fps < MinFPS || fps > MaxFPS {
		return fmt.Errorf("%w: fps %v outside %v..%v", ErrBadRequest, fps, MinFPS, MaxFPS)
	}
	if _, err := req.normalized(); err != nil {
		return err
	}
	if flush == nil {
		flush = func() {}
	}
	tick := time.NewTicker(time.Duration(float64(time.Second) / fps))
	defer tick.Stop()
	var head []byte
	for {
		st, err := s.Get(ctx, g, req)
		switch {
		case ctx.Err() != nil:
			return s.endMJPEG(w, flush)
		case err == nil:
			head = fmt.Appendf(head[:0], "--%s\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n", Boundary, len(st.JPEG))
			if err := writeAll(w, head, st.JPEG, crlf); err != nil {
				return fmt.Errorf("stills: mjpeg: %w", err)
			}
			flush()
		case errors.Is(err, ErrOffline), errors.Is(err, ErrTooOld), errors.Is(err, ErrDecode), errors.Is(err, ErrBusy):
			// Nothing to show now; the camera may come back.
		default:
			return err
		}
		select {
		case <-ctx.Done():
			return s.endMJPEG(w, flush)
		case <-tick.C:
		}
	}
}

var crlf = []byte("\r\n")

// endMJPEG writes the closing delimiter, for a client still listening.
func (s *Service) endMJPEG(w io.Writer, flush func()) error {
	if _, err := fmt.Fprintf(w, "--%s--\r\n", Boundary); err == nil {
		flush()
	}
	return nil
}

func writeAll(w io.Writer, bufs ...[]byte) error {
	for _, b := range bufs {
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}
