package fmp4

import "errors"

var (
	// ErrNoTracks means the stream has no track that fMP4 can carry
	// (H.264, H.265, AAC, Opus).
	ErrNoTracks = errors.New("fmp4: no track can be carried in fMP4")
	// ErrNoParams means a keyframe carried no usable parameter sets.
	ErrNoParams = errors.New("fmp4: keyframe without parameter sets")
	// ErrParamsChanged means the camera changed its video parameter sets
	// (size, profile) mid-stream. A progressive MP4 has one init segment, so
	// the stream ends; the viewer reconnects and gets a new one.
	ErrParamsChanged = errors.New("fmp4: video parameter sets changed")
)
