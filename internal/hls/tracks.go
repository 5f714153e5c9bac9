package hls

import (
	"fmt"
	"strconv"

	"github.com/bluenviron/gohlslib/v2"
	"github.com/bluenviron/gohlslib/v2/pkg/codecs"
	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"vigil/internal/media"
)

// Variant is an HLS flavour. Each (device, stream, variant) has its own
// muxer, but for fMP4, which the LL-HLS muxer serves (Variant.muxed).
type Variant string

// The variants served.
const (
	// VariantLL is Low-Latency HLS: fMP4 segments cut into parts, blocking
	// playlist reloads and preload hints.
	VariantLL Variant = "ll"
	// VariantFMP4 is HLS with fMP4 segments.
	VariantFMP4 Variant = "fmp4"
	// VariantTS is HLS with MPEG-TS segments (H.264 and AAC only), for
	// clients such as Alexa's relay.
	VariantTS Variant = "ts"
)

// ParseVariant validates s as a variant.
func ParseVariant(s string) (Variant, error) {
	switch v := Variant(s); v {
	case VariantLL, VariantFMP4, VariantTS:
		return v, nil
	}
	return "", fmt.Errorf("%w: %q", ErrBadVariant, s)
}

func (v Variant) valid() bool {
	_, err := ParseVariant(string(v))
	return err == nil
}

// muxed is the variant whose muxer serves v. fMP4 is the LL-HLS muxer's
// playlist without its LL-HLS tags (llTags): gohlslib's own fMP4 muxer
// publishes no playlist before two whole segments, a wait of up to two
// GOPs (8 s for a camera with 4-second GOPs) after a camera's session
// starts or a holder's epoch, and the LL-HLS muxer publishes after one;
// the segments are the same fMP4, and one muxer serves both.
func (v Variant) muxed() Variant {
	if v == VariantFMP4 {
		return VariantLL
	}
	return v
}

func (v Variant) muxerVariant() gohlslib.MuxerVariant {
	switch v {
	case VariantFMP4:
		return gohlslib.MuxerVariantFMP4
	case VariantTS:
		return gohlslib.MuxerVariantMPEGTS
	}
	return gohlslib.MuxerVariantLowLatency
}

// outTrack is a hub track that goes into a muxer.
type outTrack struct {
	index int // in the hub's track list; media.Unit.Track
	hls   *gohlslib.Track
}

// layout is what a set of tracks looks like inside a gohlslib muxer: the
// names of its media playlists. It mirrors gohlslib v2.4.3's naming (Muxer.Start:
// "main" for MPEG-TS, else "video<n>"/"audio<n>" by track position);
// TestLayoutMatchesGohlslib fails if an upgrade changes it.
type layout struct {
	// index is the media playlist served as index.m3u8: the video (or, for
	// MPEG-TS, the muxed) playlist.
	index string
	// audio is the playlist of a separate audio rendition, if any.
	audio string
}

// selectTracks picks the first video and the first audio track the variant
// can carry. key, if not nil, is a keyframe whose parameter sets are
// preferred over those the camera announced.
func selectTracks(tracks []*media.Track, v Variant, key *media.Unit) ([]outTrack, layout, error) {
	var out []outTrack
	var unsupported bool
	video, audio := false, false
	for i, t := range tracks {
		var c codecs.Codec
		rate := 90000
		switch f := t.Format.(type) {
		case *format.H264:
			if video {
				continue
			}
			sps, pps := f.SafeParams()
			sps, pps = h264Params(key, i, sps, pps)
			c = &codecs.H264{SPS: sps, PPS: pps}
		case *format.H265:
			if video {
				continue
			}
			if v == VariantTS {
				unsupported = true
				continue
			}
			vps, sps, pps := f.SafeParams()
			vps, sps, pps = h265Params(key, i, vps, sps, pps)
			c = &codecs.H265{VPS: vps, SPS: sps, PPS: pps}
		case *format.MPEG4Audio:
			if audio || f.Config == nil {
				continue
			}
			c = &codecs.MPEG4Audio{Config: *f.Config}
			rate = f.Config.SampleRate
		case *format.Opus:
			if audio {
				continue
			}
			if v == VariantTS {
				continue // audio is optional: play the video without it
			}
			c = &codecs.Opus{ChannelCount: f.ChannelCount}
			rate = 48000
		default:
			continue // G.711, LPCM, MJPEG...: no HLS codec
		}
		if c.IsVideo() {
			video = true
		} else {
			audio = true
		}
		out = append(out, outTrack{index: i, hls: &gohlslib.Track{Codec: c, ClockRate: rate}})
	}
	if len(out) == 0 {
		if unsupported {
			return nil, layout{}, ErrUnsupported
		}
		return nil, layout{}, ErrNoTracks
	}
	return out, layoutOf(out, v), nil
}

func layoutOf(out []outTrack, v Variant) layout {
	if v == VariantTS {
		return layout{index: "main_stream.m3u8"}
	}
	var l layout
	name := func(i int, kind string) string { return kind + strconv.Itoa(i+1) + "_stream.m3u8" }
	for i, t := range out {
		if t.hls.Codec.IsVideo() && l.index == "" {
			l.index = name(i, "video")
		}
	}
	for i, t := range out {
		if t.hls.Codec.IsVideo() {
			continue
		}
		if l.index == "" {
			l.index = name(i, "audio") // audio only: its playlist is the index
		} else if l.audio == "" {
			l.audio = name(i, "audio")
		}
	}
	return l
}

// h264Params returns the SPS and PPS of key if it is a unit of track,
// else sps and pps.
func h264Params(key *media.Unit, track int, sps, pps []byte) ([]byte, []byte) {
	if key == nil || key.Track != track {
		return sps, pps
	}
	s, p := media.H264Params(key.Payload)
	return either(s, sps), either(p, pps)
}

// either returns a unless it is nil.
func either(a, b []byte) []byte {
	if a != nil {
		return a
	}
	return b
}

func h265Params(key *media.Unit, track int, vps, sps, pps []byte) ([]byte, []byte, []byte) {
	if key == nil || key.Track != track {
		return vps, sps, pps
	}
	v, s, p := media.H265Params(key.Payload)
	return either(v, vps), either(s, sps), either(p, pps)
}
