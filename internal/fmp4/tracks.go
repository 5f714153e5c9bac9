package fmp4

import (
	"bytes"
	"fmt"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/opus"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"

	"vigil/internal/media"
)

// videoClockRate is the timescale of video tracks, the RTP clock of H.264
// and H.265 (RFC 6184 §8.2.1, RFC 7798 §7.1).
const videoClockRate = 90000

// videoTrack is the video track being muxed: H.264 or H.265.
type videoTrack struct {
	index int // in the stream's track list
	h265  bool
	// fallback holds the parameter sets announced out of band (SDP), used
	// when a keyframe lacks one of its own.
	fallback [][]byte

	// params are the parameter sets the init segment was built from (VPS,
	// SPS, PPS for H.265; SPS, PPS for H.264), nil before the first keyframe.
	params [][]byte
	dts    dtsExtractor
}

// dtsExtractor derives decode times from presentation times and the
// bitstream's picture order (mediacommon's h264 and h265 extractors).
type dtsExtractor interface {
	Extract(au [][]byte, pts int64) (int64, error)
}

// audioTrack is the audio track being muxed: AAC or Opus.
type audioTrack struct {
	index int
	rate  int // samples per second, the track's timescale
	codec codecs.Codec
	// frameDur is the duration of one audio frame in 1/rate seconds.
	frameDur func(frame []byte) int64
}

// pickTracks returns the first video and the first audio track that fMP4
// can carry. Further tracks of the same kind, and G.711 (no mapping that
// browsers play), are left out of the output.
func pickTracks(tracks []*media.Track) (*videoTrack, *audioTrack) {
	var v *videoTrack
	var a *audioTrack
	for i, t := range tracks {
		switch f := t.Format.(type) {
		case *format.H264:
			if v == nil {
				v = &videoTrack{index: i, fallback: nonEmpty(f.SPS, f.PPS)}
				e := &h264.DTSExtractor{}
				e.Initialize()
				v.dts = e
			}
		case *format.H265:
			if v == nil {
				v = &videoTrack{index: i, h265: true, fallback: nonEmpty(f.VPS, f.SPS, f.PPS)}
				e := &h265.DTSExtractor{}
				e.Initialize()
				v.dts = e
			}
		case *format.MPEG4Audio:
			// Without an AudioSpecificConfig there is no esds to write.
			if a == nil && f.Config != nil && f.Config.SampleRate > 0 {
				frame := int64(1024) // ISO 14496-3: AAC-LC and HE-AAC frames
				if f.Config.FrameLengthFlag {
					frame = 960
				}
				a = &audioTrack{
					index:    i,
					rate:     f.Config.SampleRate,
					codec:    &codecs.MPEG4Audio{Config: *f.Config},
					frameDur: func([]byte) int64 { return frame },
				}
			}
		case *format.Opus:
			if a == nil {
				ch := max(f.ChannelCount, 1)
				a = &audioTrack{
					index: i,
					rate:  48000, // RFC 7587 §4.1: the Opus RTP clock is always 48 kHz
					codec: &codecs.Opus{ChannelCount: ch},
					// RFC 6716 §3.1: the TOC byte gives the duration, in 48 kHz units.
					frameDur: opus.PacketDuration2,
				}
			}
		}
	}
	return v, a
}

func nonEmpty(sets ...[]byte) [][]byte {
	for _, s := range sets {
		if len(s) == 0 {
			return nil
		}
	}
	return sets
}

// keyParams returns the parameter sets carried in a keyframe, in the order
// the codec record wants them, falling back to the out-of-band ones.
func (v *videoTrack) keyParams(au [][]byte) ([][]byte, error) {
	var sets [][]byte
	if v.h265 {
		sets = nonEmpty(media.H265Params(au))
	} else {
		sets = nonEmpty(media.H264Params(au))
	}
	if sets == nil {
		sets = v.fallback
	}
	if sets == nil {
		return nil, ErrNoParams
	}
	return sets, nil
}

// setParams records the parameter sets of a keyframe. The first call fixes
// them; a later keyframe with different ones is ErrParamsChanged.
func (v *videoTrack) setParams(au [][]byte) error {
	sets, err := v.keyParams(au)
	if err != nil {
		return err
	}
	if v.params == nil {
		if err := v.checkSPS(sets); err != nil {
			return err
		}
		v.params = sets
		return nil
	}
	for i := range sets {
		if !bytes.Equal(sets[i], v.params[i]) {
			return ErrParamsChanged
		}
	}
	return nil
}

// checkSPS parses the SPS so that a broken one fails here, with its reason,
// rather than as a muxing error.
func (v *videoTrack) checkSPS(sets [][]byte) error {
	if v.h265 {
		var sps h265.SPS
		if err := sps.Unmarshal(sets[1]); err != nil {
			return fmt.Errorf("fmp4: H.265 SPS: %w", err)
		}
		return nil
	}
	var sps h264.SPS
	if err := sps.Unmarshal(sets[0]); err != nil {
		return fmt.Errorf("fmp4: H.264 SPS: %w", err)
	}
	return nil
}

// codec is the sample entry's codec, from the recorded parameter sets.
func (v *videoTrack) codec() codecs.Codec {
	if v.h265 {
		return &codecs.H265{VPS: v.params[0], SPS: v.params[1], PPS: v.params[2]}
	}
	return &codecs.H264{SPS: v.params[0], PPS: v.params[1]}
}
