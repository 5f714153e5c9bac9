package hls

import (
	"errors"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"vigil/internal/media"
)

func TestSelectTracks(t *testing.T) {
	h264 := &media.Track{Kind: media.Video, Format: &format.H264{PayloadTyp: 96, PacketizationMode: 1}}
	h265 := &media.Track{Kind: media.Video, Format: &format.H265{PayloadTyp: 96}}
	g711 := &media.Track{Kind: media.Audio, Format: &format.G711{PayloadTyp: 0, MULaw: true, SampleRate: 8000, ChannelCount: 1}}
	opus := &media.Track{Kind: media.Audio, Format: &format.Opus{PayloadTyp: 111, ChannelCount: 2}}
	aac := &media.Track{Kind: media.Audio, Format: &format.MPEG4Audio{PayloadTyp: 97,
		Config: &mpeg4audio.AudioSpecificConfig{Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 44100, ChannelCount: 2}}}
	for _, tc := range []struct {
		name    string
		tracks  []*media.Track
		v       Variant
		indexes []int
		layout  layout
		err     error
	}{
		{"h264", []*media.Track{h264}, VariantLL, []int{0}, layout{index: "video1_stream.m3u8"}, nil},
		{"h264+g711 drops g711", []*media.Track{h264, g711}, VariantFMP4, []int{0}, layout{index: "video1_stream.m3u8"}, nil},
		{"g711+h264", []*media.Track{g711, h264}, VariantLL, []int{1}, layout{index: "video1_stream.m3u8"}, nil},
		{"h264+aac", []*media.Track{h264, aac}, VariantLL, []int{0, 1}, layout{index: "video1_stream.m3u8", audio: "audio2_stream.m3u8"}, nil},
		{"aac+h264", []*media.Track{aac, h264}, VariantFMP4, []int{0, 1}, layout{index: "video2_stream.m3u8", audio: "audio1_stream.m3u8"}, nil},
		{"h264+aac ts", []*media.Track{h264, aac}, VariantTS, []int{0, 1}, layout{index: "main_stream.m3u8"}, nil},
		{"h264+opus ts drops opus", []*media.Track{h264, opus}, VariantTS, []int{0}, layout{index: "main_stream.m3u8"}, nil},
		{"h264+opus ll", []*media.Track{h264, opus}, VariantLL, []int{0, 1}, layout{index: "video1_stream.m3u8", audio: "audio2_stream.m3u8"}, nil},
		{"aac only", []*media.Track{aac}, VariantLL, []int{0}, layout{index: "audio1_stream.m3u8"}, nil},
		{"h265 ll", []*media.Track{h265}, VariantLL, []int{0}, layout{index: "video1_stream.m3u8"}, nil},
		{"h265 ts", []*media.Track{h265}, VariantTS, nil, layout{}, ErrUnsupported},
		{"g711 only", []*media.Track{g711}, VariantLL, nil, layout{}, ErrNoTracks},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, l, err := selectTracks(tc.tracks, tc.v, nil)
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			var idx []int
			for _, o := range out {
				idx = append(idx, o.index)
			}
			if len(idx) != len(tc.indexes) || l != tc.layout {
				t.Errorf("tracks %v layout %+v, want %v %+v", idx, l, tc.indexes, tc.layout)
			}
			for i := range idx {
				if idx[i] != tc.indexes[i] {
					t.Errorf("tracks %v, want %v", idx, tc.indexes)
				}
			}
		})
	}
}

func TestRateMeter(t *testing.T) {
	var m rateMeter
	owner := media.Owner{Device: "cam-a", Stream: "main", Session: 1}
	unit := func(pts time.Duration, key bool, n int) *media.Unit {
		return media.NewUnit(owner, 0, 0, pts, key, time.Time{}, [][]byte{make([]byte, n)})
	}
	m.add(unit(0, false, 1000), false, true) // before the first keyframe: not counted
	m.add(unit(0, true, 10000), true, true)
	m.add(unit(500*time.Millisecond, false, 2500), false, true)
	if bps, measured := m.peak(time.Second); measured || bps != 12500*8 {
		t.Errorf("open window: %d measured=%v, want %d over the 1 s floor", bps, measured, 12500*8)
	}
	m.add(unit(time.Second, true, 5000), true, true) // closes 12500 bytes in 1 s
	m.add(unit(3*time.Second, true, 0), true, true)  // closes 5000 bytes in 2 s
	if bps, measured := m.peak(time.Second); !measured || bps != 12500*8 {
		t.Errorf("peak %d measured=%v, want %d", bps, measured, 12500*8)
	}
}

func TestQueryAndFileNames(t *testing.T) {
	for raw, want := range map[string]string{
		"":                           "",
		"token=abc":                  "token=abc",
		"_HLS_msn=3&_HLS_part=1&t=x": "t=x",
		`t=a"b`:                      "t=a%22b",
		"t=a%0Ab":                    "t=a%0Ab",
		"%zz":                        "",
	} {
		if got := query(raw); got != want {
			t.Errorf("query(%q) = %q, want %q", raw, got, want)
		}
	}
	for f, want := range map[string]bool{
		"index.m3u8": true, "abc_video1_part3.mp4": true, "abc_main_seg12.ts": true,
		"": false, ".": false, "..": false, "a/b": false, "a\\b": false, "a b": false, "a%2f": false,
	} {
		if validFile(f) != want {
			t.Errorf("validFile(%q) = %v", f, !want)
		}
	}
	if _, err := ParseVariant("hls"); !errors.Is(err, ErrBadVariant) {
		t.Errorf("ParseVariant(hls): %v", err)
	}
}
