// Package fmp4read reads fragmented MP4 (ISO/IEC 14496-12) as a viewer
// does: boxes off a live stream, an init segment's tracks, and each
// fragment's samples with their decode times and sync flags. The bench and
// the leak canary read Vigil's progressive MP4 and HLS parts with it.
//
// It is a client: server code never imports it, and it knows nothing of
// Vigil, its users or the cameras' stamps (the callers check those).
package fmp4read

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
)

// MaxBox bounds one box read from a live stream.
const MaxBox = 64 << 20

// ErrBoxSize is a box whose size is below its header's or above MaxBox.
var ErrBoxSize = errors.New("fmp4read: box size out of range")

// ErrNoMoov is a stream or init segment that holds no moov box.
var ErrNoMoov = errors.New("fmp4read: no moov box before the first fragment")

// ReadBox reads one box (§4.2) and returns its type and all its bytes,
// header included. A box "to the end of the file" (size 0) has no end in
// a live stream and is refused.
func ReadBox(r io.Reader) (string, []byte, error) {
	hdr := make([]byte, 8, 16)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return "", nil, err
	}
	size := uint64(binary.BigEndian.Uint32(hdr))
	if size == 1 { // largesize follows the type
		hdr = hdr[:16]
		if _, err := io.ReadFull(r, hdr[8:]); err != nil {
			return "", nil, err
		}
		size = binary.BigEndian.Uint64(hdr[8:])
	}
	if size < uint64(len(hdr)) || size > MaxBox {
		return "", nil, fmt.Errorf("%w: %q of %d bytes", ErrBoxSize, hdr[4:8], size)
	}
	b := make([]byte, size)
	copy(b, hdr)
	if _, err := io.ReadFull(r, b[len(hdr):]); err != nil {
		return "", nil, err
	}
	return string(hdr[4:8]), b, nil
}

// ReadFragment reads boxes until a moof and the mdat after it, and returns
// the two; other boxes (ftyp, moov, styp, sidx) are skipped.
func ReadFragment(r io.Reader) ([]byte, error) {
	var moof []byte
	for {
		typ, b, err := ReadBox(r)
		if err != nil {
			return nil, err
		}
		switch {
		case typ == "moof":
			moof = b
		case typ == "mdat" && moof != nil:
			return append(moof, b...), nil
		}
	}
}

// Track is one track of an init segment.
type Track struct {
	ID        int
	Timescale uint32       // ticks per second of its decode times
	Codec     codecs.Codec // mediacommon's: *codecs.H264, *codecs.G711, ...
}

// Init is what an init segment (ftyp and moov) says of its tracks.
type Init struct {
	Tracks []Track
}

// ParseInit parses an init segment, such as an HLS EXT-X-MAP.
func ParseInit(b []byte) (Init, error) {
	var in fmp4.Init
	if err := in.Unmarshal(bytes.NewReader(b)); err != nil {
		return Init{}, fmt.Errorf("fmp4read: init: %w", err)
	}
	var out Init
	for _, t := range in.Tracks {
		out.Tracks = append(out.Tracks, Track{ID: t.ID, Timescale: t.TimeScale, Codec: t.Codec})
	}
	return out, nil
}

// ReadInit reads the boxes of a progressive stream up to its moov and
// parses ftyp and moov; a fragment before the moov is an error.
func ReadInit(r io.Reader) (Init, error) {
	var seg []byte
	for {
		typ, b, err := ReadBox(r)
		if err != nil {
			return Init{}, err
		}
		switch typ {
		case "moof", "mdat":
			return Init{}, ErrNoMoov
		case "ftyp":
			seg = b
		case "moov":
			return ParseInit(append(seg, b...))
		}
	}
}

// H264 returns the first H.264 track.
func (in Init) H264() (Track, bool) {
	for _, t := range in.Tracks {
		if _, ok := t.Codec.(*codecs.H264); ok {
			return t, true
		}
	}
	return Track{}, false
}

// Time is s's decode time in its track's timescale as a duration; false
// if the init has no such track.
func (in Init) Time(s Sample) (time.Duration, bool) {
	for _, t := range in.Tracks {
		if t.ID == s.Track && t.Timescale > 0 {
			secs, ticks := s.DTS/uint64(t.Timescale), s.DTS%uint64(t.Timescale)
			return time.Duration(secs)*time.Second + time.Duration(ticks)*time.Second/time.Duration(t.Timescale), true
		}
	}
	return 0, false
}

// Sample is one sample of a fragment.
type Sample struct {
	Track   int    // the track's ID
	DTS     uint64 // decode time in the track's timescale: the fragment's base time plus the durations before it
	Sync    bool   // the fragment marks it a sync sample (decoding may start here)
	Payload []byte
}

// Samples demuxes one or more moof+mdat fragments (a progressive MP4
// fragment, an HLS segment or part) into their samples, fragment by
// fragment, track by track, in order. A sample's sync flag is its own, or
// its run's first_sample_flags, or its fragment's default.
func Samples(b []byte) ([]Sample, error) {
	var parts fmp4.Parts
	if err := parts.Unmarshal(b); err != nil {
		return nil, fmt.Errorf("fmp4read: %w", err)
	}
	var out []Sample
	for _, p := range parts {
		for _, t := range p.Tracks {
			dts := t.BaseTime
			for _, s := range t.Samples {
				out = append(out, Sample{Track: t.ID, DTS: dts, Sync: !s.IsNonSyncSample, Payload: s.Payload})
				dts += uint64(s.Duration)
			}
		}
	}
	truns, err := firstSampleFlags(b)
	if err != nil {
		return nil, err
	}
	i := 0
	for _, t := range truns {
		if t.flagged && i < len(out) {
			out[i].Sync = !t.nonSync
		}
		i += t.count
	}
	return out, nil
}

// H264 splits an H.264 sample into its NAL units: AVCC with 4-byte
// lengths (ISO/IEC 14496-15 §5.3.2). A sample of another codec mostly
// fails to parse.
func (s Sample) H264() (h264.AVCC, error) {
	var au h264.AVCC
	if err := au.Unmarshal(s.Payload); err != nil {
		return nil, fmt.Errorf("fmp4read: sample of track %d: %w", s.Track, err)
	}
	return au, nil
}
