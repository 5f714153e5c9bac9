package fmp4

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	mfmp4 "github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"

	"vigil/internal/media"
	"vigil/internal/sim"
)

// H.265 parameter sets of a 1920x1080 Main stream (from mediacommon's tests).
var (
	h265VPS = []byte{
		0x40, 0x01, 0x0c, 0x01, 0xff, 0xff, 0x02, 0x20, 0x00, 0x00, 0x03, 0x00,
		0xb0, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x00, 0x7b, 0x18, 0xb0, 0x24,
	}
	h265SPS = []byte{
		0x42, 0x01, 0x01, 0x02, 0x20, 0x00, 0x00, 0x03, 0x00, 0xb0, 0x00, 0x00,
		0x03, 0x00, 0x00, 0x03, 0x00, 0x7b, 0xa0, 0x07, 0x82, 0x00, 0x88, 0x7d,
		0xb6, 0x71, 0x8b, 0x92, 0x44, 0x80, 0x53, 0x88, 0x88, 0x92, 0xcf, 0x24,
		0xa6, 0x92, 0x72, 0xc9, 0x12, 0x49, 0x22, 0xdc, 0x91, 0xaa, 0x48, 0xfc,
		0xa2, 0x23, 0xff, 0x00, 0x01, 0x00, 0x01, 0x6a, 0x02, 0x02, 0x02, 0x01,
	}
	h265PPS = []byte{0x44, 0x01, 0xc0, 0x25, 0x2f, 0x05, 0x32, 0x40}
	// An IDR_W_RADL slice header start; its content does not matter here.
	h265IDR = []byte{0x26, 0x01, 0xaf, 0x08, 0x40}
	h265TRL = []byte{0x02, 0x01, 0xd0, 0x08, 0x40} // TRAIL_R
)

var aacLC = &mpeg4audio.AudioSpecificConfig{Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 44100, ChannelConfig: 2, ChannelCount: 2}

// TestInitSegment checks the init segment's layout for each track set: the
// boxes in order, and the tracks as mediacommon decodes them back.
func TestInitSegment(t *testing.T) {
	g, err := sim.NewGenerator(testW, testH, testFPS, testGOP, nil)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := g.Next()
	pframe, _ := g.Next()
	sps, pps := g.SPS(), g.PPS()
	slice := key[2]

	h264 := &format.H264{PayloadTyp: 96, PacketizationMode: 1}
	h264SDP := &format.H264{PayloadTyp: 96, PacketizationMode: 1, SPS: sps, PPS: pps}
	h265 := &format.H265{PayloadTyp: 96}
	aac := &format.MPEG4Audio{PayloadTyp: 97, Config: aacLC, SizeLength: 13, IndexLength: 3, IndexDeltaLength: 3}
	opus := &format.Opus{PayloadTyp: 111, ChannelCount: 2}
	g711 := &format.G711{PayloadTyp: 0, MULaw: true, SampleRate: 8000, ChannelCount: 1}
	video := func(f format.Format) *media.Track { return &media.Track{Kind: media.Video, Format: f} }
	audio := func(f format.Format) *media.Track { return &media.Track{Kind: media.Audio, Format: f} }
	h264Codec := &codecs.H264{SPS: sps, PPS: pps}

	cases := []struct {
		name   string
		tracks []*media.Track
		// first and second are the payloads of the first two video frames;
		// nil for audio-only streams.
		first, second [][]byte
		want          []*mfmp4.InitTrack
		err           error
	}{
		{
			name: "h264", tracks: []*media.Track{video(h264)}, first: key, second: pframe,
			want: []*mfmp4.InitTrack{{ID: 1, TimeScale: 90000, Codec: h264Codec}},
		},
		{
			name: "h264 params from SDP", tracks: []*media.Track{video(h264SDP)}, first: [][]byte{slice}, second: pframe,
			want: []*mfmp4.InitTrack{{ID: 1, TimeScale: 90000, Codec: h264Codec}},
		},
		{
			name: "h264 aac", tracks: []*media.Track{video(h264), audio(aac)}, first: key, second: pframe,
			want: []*mfmp4.InitTrack{
				{ID: 1, TimeScale: 90000, Codec: h264Codec},
				{ID: 2, TimeScale: 44100, Codec: &codecs.MPEG4Audio{Config: *aacLC}},
			},
		},
		{
			name: "audio first, g711 left out", tracks: []*media.Track{audio(g711), audio(opus), video(h264)}, first: key, second: pframe,
			want: []*mfmp4.InitTrack{
				{ID: 1, TimeScale: 90000, Codec: h264Codec},
				{ID: 2, TimeScale: 48000, Codec: &codecs.Opus{ChannelCount: 2}},
			},
		},
		{
			name: "h264 g711", tracks: []*media.Track{video(h264), audio(g711)}, first: key, second: pframe,
			want: []*mfmp4.InitTrack{{ID: 1, TimeScale: 90000, Codec: h264Codec}},
		},
		{
			name: "h265", tracks: []*media.Track{video(h265)},
			first: [][]byte{h265VPS, h265SPS, h265PPS, h265IDR}, second: [][]byte{h265TRL},
			want: []*mfmp4.InitTrack{{ID: 1, TimeScale: 90000, Codec: &codecs.H265{VPS: h265VPS, SPS: h265SPS, PPS: h265PPS}}},
		},
		{
			name: "aac only", tracks: []*media.Track{audio(aac)},
			want: []*mfmp4.InitTrack{{ID: 1, TimeScale: 44100, Codec: &codecs.MPEG4Audio{Config: *aacLC}}},
		},
		{
			name: "opus only", tracks: []*media.Track{audio(opus)},
			want: []*mfmp4.InitTrack{{ID: 1, TimeScale: 48000, Codec: &codecs.Opus{ChannelCount: 2}}},
		},
		{name: "g711 only", tracks: []*media.Track{audio(g711)}, err: ErrNoTracks},
		{name: "keyframe without params", tracks: []*media.Track{video(h264)}, first: [][]byte{slice}, err: ErrNoParams},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := &countWriter{}
			err := feedFirst(w, tc.tracks, tc.first, tc.second)
			if tc.err != nil || err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("got error %v, want %v", err, tc.err)
				}
				return
			}
			out := w.bytes()
			if got, want := topBoxes(t, out), []string{"ftyp", "moov", "moof", "mdat"}; !reflect.DeepEqual(got, want) {
				t.Fatalf("top-level boxes %v, want %v", got, want)
			}
			var init mfmp4.Init
			if err := init.Unmarshal(bytes.NewReader(out)); err != nil {
				t.Fatal(err)
			}
			if len(init.Tracks) != len(tc.want) {
				t.Fatalf("%d tracks, want %d", len(init.Tracks), len(tc.want))
			}
			for i, got := range init.Tracks {
				if !reflect.DeepEqual(got, tc.want[i]) {
					t.Errorf("track %d: got %+v %+v, want %+v %+v", i, *got, got.Codec, *tc.want[i], tc.want[i].Codec)
				}
			}
		})
	}
}

// feedFirst pushes a stream's first units through a muxer until it wrote
// its first fragment: a keyframe, a frame of audio, the next frame.
func feedFirst(w *countWriter, tracks []*media.Track, first, second [][]byte) error {
	m, err := newMuxer(tracks, w, nil, func(*media.Unit) error { return nil })
	if err != nil {
		return err
	}
	owner := media.Owner{Device: "cam-a", Stream: "main", Session: 1}
	seq := uint64(0)
	push := func(track int, pts time.Duration, key bool, payload [][]byte) error {
		seq++
		return m.push(media.NewUnit(owner, seq, track, pts, key, time.Time{}, payload))
	}
	for i, tr := range tracks {
		if tr.Kind == media.Video && first != nil {
			if err := push(i, 0, true, first); err != nil {
				return err
			}
		}
	}
	for i, tr := range tracks {
		if tr.Kind == media.Audio {
			frame := []byte{0x21, 0x10, 0x04} // an AAC frame's start; Opus TOC config 4
			if err := push(i, 0, false, [][]byte{frame}); err != nil {
				return err
			}
		}
	}
	for i, tr := range tracks {
		if tr.Kind == media.Video && second != nil {
			if err := push(i, 40*time.Millisecond, false, second); err != nil {
				return err
			}
		}
	}
	return nil
}

// topBoxes lists the types of the top-level boxes.
func topBoxes(t *testing.T, b []byte) []string {
	t.Helper()
	var types []string
	for len(b) > 0 {
		if len(b) < 8 {
			t.Fatalf("%d trailing bytes", len(b))
		}
		size := binary.BigEndian.Uint32(b)
		if size < 8 || int(size) > len(b) {
			t.Fatalf("box %q: size %d of %d bytes left", b[4:8], size, len(b))
		}
		types = append(types, string(b[4:8]))
		b = b[size:]
	}
	return types
}
