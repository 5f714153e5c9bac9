package record

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	mcfmp4 "github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"

	"vigil/internal/fmp4read"
)

// errNoFragment: a recorded file holds no whole fragment (or no init).
var errNoFragment = errors.New("record: no whole fragment recorded")

// scanned is what scanFile found in a recorded file.
type scanned struct {
	frags    []Fragment
	end      int64         // where the last whole fragment ends
	duration time.Duration // decode time to the end of its last video sample
}

// scanFile reads a recorded fMP4 file (an init segment, then a moof and an
// mdat per GOP, as the recorder writes it) from its start and returns its
// whole fragments: what a crash left of it, or all of it. It stops at the
// first box that is cut short or does not parse.
func scanFile(b []byte) (scanned, error) {
	var (
		s    scanned
		init []byte
		in   fmp4read.Init
		vid        = -1
		moof int64 = -1
	)
	r := bytes.NewReader(b)
	for {
		off := int64(len(b)) - int64(r.Len())
		typ, box, err := fmp4read.ReadBox(r)
		if err != nil {
			break // the end, or a box cut short
		}
		switch {
		case typ == "ftyp":
			init = box
		case typ == "moov" && vid < 0:
			if in, err = fmp4read.ParseInit(append(init, box...)); err != nil {
				return s, fmt.Errorf("record: scan: %w", err)
			}
			vid = videoTrack(in)
		case typ == "moof" && vid >= 0:
			moof = off
		case typ == "mdat" && moof >= 0:
			f, end, ok := scanFragment(in, vid, b[moof:off+int64(len(box))])
			if !ok {
				return s.check()
			}
			f.Offset = moof
			s.frags, s.end, s.duration, moof = append(s.frags, f), off+int64(len(box)), end, -1
		}
	}
	return s.check()
}

func (s scanned) check() (scanned, error) {
	if len(s.frags) == 0 {
		return s, errNoFragment
	}
	return s, nil
}

// videoTrack is the ID of the init's video track, -1 if it has none.
func videoTrack(in fmp4read.Init) int {
	for _, t := range in.Tracks {
		switch t.Codec.(type) {
		case *codecs.H264, *codecs.H265:
			if t.Timescale > 0 {
				return t.ID
			}
		}
	}
	return -1
}

// scanFragment reads a moof+mdat: its video start time and keyframe flag,
// and the decode time its video ends at.
func scanFragment(in fmp4read.Init, vid int, b []byte) (Fragment, time.Duration, bool) {
	samples, err := fmp4read.Samples(b)
	var parts mcfmp4.Parts
	if err != nil || parts.Unmarshal(b) != nil {
		return Fragment{}, 0, false
	}
	var f Fragment
	found := false
	for _, s := range samples {
		if s.Track == vid {
			f.Time, _ = in.Time(s)
			f.Key, found = s.Sync, true
			break
		}
	}
	var end fmp4read.Sample
	for _, p := range parts {
		for _, t := range p.Tracks {
			if t.ID == vid {
				end = fmp4read.Sample{Track: vid, DTS: t.BaseTime}
				for _, s := range t.Samples {
					end.DTS += uint64(s.Duration)
				}
			}
		}
	}
	d, _ := in.Time(end)
	return f, d, found
}
