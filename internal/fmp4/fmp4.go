// Package fmp4 writes a camera stream as progressive fragmented MP4
// (CMAF-style: an ftyp+moov init segment, then one moof+mdat fragment per
// video frame), for players that read a single HTTP response: browsers'
// Media Source Extensions, <video>, ffmpeg, VLC.
//
// It carries H.264 or H.265 video (the first video track) and AAC or Opus
// audio (the first such audio track). G.711 has no fMP4 mapping that
// browsers play, so a G.711 track is left out, as are further tracks.
//
// Every unit passes the reader's egress check (invariant 3) right before
// its bytes are written; on a mismatch nothing of the fragment is written
// and the stream ends. Samples are written as the camera sent them: stamps
// and in-band parameter sets stay in (invariant 7).
//
// The package knows nothing of HTTP routing, users or storage: it writes to
// an io.Writer.
package fmp4

import (
	"context"
	"io"

	"vigil/internal/hub"
)

// Stream writes a live progressive fMP4 of r to w until ctx ends, the reader
// ends, or a write fails. flush (may be nil) is called after each fragment
// (an http.Flusher's Flush).
//
// The output starts at the first keyframe the reader delivers (the hub
// replays the cached GOP from its keyframe) with decode time zero, and
// continues without gaps of its own making. A video frame is written when
// the next one arrives, since that fixes its duration: the latency this adds
// is one frame interval. When the reader ends (the camera went offline or
// reconnected), the last frame is written with the previous frame's
// duration before Stream returns the reader's error.
//
// Stream returns ctx's error, the reader's error, the egress check's error
// (nothing of that fragment was written), ErrNoTracks, ErrNoParams,
// ErrParamsChanged, or a write error. It does not close r.
func Stream(ctx context.Context, w io.Writer, flush func(), r *hub.Reader) error {
	m, err := newMuxer(r.Tracks(), w, flush, r.Egress)
	if err != nil {
		return err
	}
	for {
		u, err := r.Next(ctx)
		if err != nil {
			if ctx.Err() == nil {
				if ferr := m.finish(); ferr != nil {
					return ferr
				}
			}
			return err
		}
		if err := m.push(u); err != nil {
			return err
		}
	}
}
