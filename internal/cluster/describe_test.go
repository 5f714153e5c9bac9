package cluster

import (
	"errors"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"vigil/internal/access"
	"vigil/internal/media"
)

var describeCases = []struct {
	name   string
	tracks []*media.Track
	ok     bool
}{
	{"h264 and aac", []*media.Track{
		{Kind: media.Video, Format: &format.H264{PayloadTyp: 96, PacketizationMode: 1}},
		{Kind: media.Audio, Format: &format.G711{PayloadTyp: 0, MULaw: true, SampleRate: 8000, ChannelCount: 1}},
	}, true},
	{"h265", []*media.Track{{Kind: media.Video, Format: &format.H265{PayloadTyp: 96}}}, true},
	// The home node would never send these (its ingest drops them); a
	// node that did, or a forged description under a leaked key, must not
	// get a codec past the receiving node's allow-list either.
	{"vp8 only", []*media.Track{{Kind: media.Video, Format: &format.VP8{PayloadTyp: 96}}}, false},
	{"vp8 before h264", []*media.Track{
		{Kind: media.Video, Format: &format.VP8{PayloadTyp: 97}},
		{Kind: media.Video, Format: &format.H264{PayloadTyp: 96, PacketizationMode: 1}},
	}, false},
	{"no tracks", nil, false},
}

// TestDescriptionAllowList: a track description from another node goes
// through the same codec allow-list as a camera's announce; one naming any
// other codec is refused whole, since leaving its media out would shift
// the track numbers its units carry.
func TestDescriptionAllowList(t *testing.T) {
	owner := media.Owner{Device: "cam-a", Stream: access.StreamMain, Session: 1}
	start := time.Unix(1700000000, 5)
	for _, tc := range describeCases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := encodeDescription(tc.tracks, start)
			if err != nil {
				t.Fatal(err)
			}
			d, err := decodeDescription(owner, b)
			if !tc.ok {
				if !errors.Is(err, errFrame) {
					t.Fatalf("decoded %v (error %v), want errFrame", d, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Owner != owner || !d.Start.Equal(start) || len(d.Tracks) != len(tc.tracks) {
				t.Fatalf("decoded %+v", d)
			}
			for i, tr := range d.Tracks {
				if tr.Kind != tc.tracks[i].Kind || tr.Codec() != tc.tracks[i].Codec() {
					t.Errorf("track %d: %v %s, want %v %s", i, tr.Kind, tr.Codec(), tc.tracks[i].Kind, tc.tracks[i].Codec())
				}
			}
		})
	}
}

// FuzzDecodeDescription: whatever opens as a description decodes or fails
// with errFrame, and what decodes has only allowed codecs.
func FuzzDecodeDescription(f *testing.F) {
	for _, tc := range describeCases {
		b, err := encodeDescription(tc.tracks, time.Unix(1, 0))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	owner := media.Owner{Device: "cam-a", Stream: access.StreamMain, Session: 1}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := decodeDescription(owner, b)
		if err != nil {
			if !errors.Is(err, errFrame) {
				t.Fatalf("error %v is not errFrame", err)
			}
			return
		}
		for _, tr := range d.Tracks {
			switch tr.Format.(type) {
			case *format.H264, *format.H265, *format.MPEG4Audio, *format.Opus, *format.G711:
			default:
				t.Fatalf("codec %s past the allow-list", tr.Codec())
			}
		}
	})
}
