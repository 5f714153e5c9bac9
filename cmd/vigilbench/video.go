package main

import (
	"errors"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"vigil/internal/fmp4read"
	"vigil/internal/sim"
)

var errNoH264 = errors.New("fmp4: the init segment has no H.264 track")

// videoSample is one H.264 sample of an fMP4 fragment, split into NAL units.
type videoSample struct {
	nalus [][]byte
	idr   bool // holds an IDR picture (H.264 nal_unit_type 5)
}

// videoSamples demuxes the samples of in's H.264 track from one or more
// moof+mdat fragments. Whether a sample is a keyframe is read from its
// NAL units, not from the fragment's sync flag: the bench checks what the
// muxer sends, not what it says.
func videoSamples(in fmp4read.Init, b []byte) ([]videoSample, error) {
	track, ok := in.H264()
	if !ok {
		return nil, errNoH264
	}
	samples, err := fmp4read.Samples(b)
	if err != nil {
		return nil, err
	}
	var out []videoSample
	for _, s := range samples {
		if s.Track != track.ID {
			continue
		}
		au, err := s.H264()
		if err != nil {
			return nil, err
		}
		out = append(out, videoSample{nalus: au, idr: h264.IsRandomAccess(au)})
	}
	return out, nil
}

// stampOf returns the simulated camera's stamp in a sample, if any.
func stampOf(nalus [][]byte, keys sim.Keys) (sim.Stamp, bool) {
	for _, n := range nalus {
		if s, ok, err := sim.ParseStamp(n, keys); ok && err == nil {
			return s, true
		}
	}
	return sim.Stamp{}, false
}
