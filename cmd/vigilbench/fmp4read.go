package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"

	"vigil/internal/sim"
)

// maxBox bounds one box read from a live stream.
const maxBox = 64 << 20

var errBoxSize = errors.New("fmp4: box size out of range")

// readBox reads one ISO BMFF box (ISO/IEC 14496-12 §4.2) and returns its
// type and all its bytes, header included. A box "to the end of the file"
// (size 0) has no end in a live stream and is refused.
func readBox(r io.Reader) (string, []byte, error) {
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
	if size < uint64(len(hdr)) || size > maxBox {
		return "", nil, fmt.Errorf("%w: %q of %d bytes", errBoxSize, hdr[4:8], size)
	}
	b := make([]byte, size)
	copy(b, hdr)
	if _, err := io.ReadFull(r, b[len(hdr):]); err != nil {
		return "", nil, err
	}
	return string(hdr[4:8]), b, nil
}

// readFragment reads boxes until a moof and the mdat after it, and returns
// the two; other boxes (ftyp, moov, styp) are skipped.
func readFragment(r io.Reader) ([]byte, error) {
	var moof []byte
	for {
		typ, b, err := readBox(r)
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

// videoSample is one video sample of a fragment, split into NAL units.
type videoSample struct {
	nalus [][]byte
	idr   bool // holds an IDR picture (H.264 nal_unit_type 5)
}

// videoSamples demuxes one or more moof+mdat fragments. The video is taken
// to be the first track of each fragment, which is how Vigil's progressive
// MP4 and gohlslib's video playlists lay it out; its samples are AVCC with
// 4-byte lengths (ISO/IEC 14496-15 §5.3.2).
func videoSamples(b []byte) ([]videoSample, error) {
	var parts fmp4.Parts
	if err := parts.Unmarshal(b); err != nil {
		return nil, fmt.Errorf("fmp4: %w", err)
	}
	var out []videoSample
	for _, p := range parts {
		if len(p.Tracks) == 0 {
			continue
		}
		for _, s := range p.Tracks[0].Samples {
			var au h264.AVCC
			if err := au.Unmarshal(s.Payload); err != nil {
				return nil, fmt.Errorf("fmp4: sample: %w", err)
			}
			out = append(out, videoSample{nalus: au, idr: h264.IsRandomAccess(au)})
		}
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
