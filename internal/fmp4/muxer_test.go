package fmp4

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	mfmp4 "github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"

	"vigil/internal/media"
	"vigil/internal/sim"
)

// pushed is a unit to push in a muxer test.
type pushed struct {
	track int
	pts   time.Duration
	key   bool
	data  [][]byte
}

// mux pushes units through a fresh muxer and decodes its fragments.
func mux(t *testing.T, tracks []*media.Track, in []pushed) (mfmp4.Parts, error) {
	t.Helper()
	w := &countWriter{}
	m, err := newMuxer(tracks, w, nil, func(*media.Unit) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	owner := media.Owner{Device: "cam-a", Stream: "main", Session: 1}
	for i, p := range in {
		if err = m.push(media.NewUnit(owner, uint64(i+1), p.track, p.pts, p.key, time.Time{}, p.data)); err != nil {
			break
		}
	}
	var parts mfmp4.Parts
	if perr := parts.Unmarshal(w.bytes()); perr != nil {
		t.Fatal(perr)
	}
	return parts, err
}

// audioTimes lists each audio sample's decode time and duration.
func audioTimes(parts mfmp4.Parts, id int) [][2]uint64 {
	var got [][2]uint64
	for _, p := range parts {
		for _, tr := range p.Tracks {
			if tr.ID != id {
				continue
			}
			t := tr.BaseTime
			for _, s := range tr.Samples {
				got = append(got, [2]uint64{t, uint64(s.Duration)})
				t += uint64(s.Duration)
			}
		}
	}
	return got
}

func TestAudioTimeline(t *testing.T) {
	ms := time.Millisecond
	opus := &media.Track{Kind: media.Audio, Format: &format.Opus{PayloadTyp: 111, ChannelCount: 1}}
	aac960 := &media.Track{Kind: media.Audio, Format: &format.MPEG4Audio{PayloadTyp: 97, Config: &mpeg4audio.AudioSpecificConfig{
		Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 48000, ChannelConfig: 1, ChannelCount: 1, FrameLengthFlag: true,
	}}}
	o20 := [][]byte{opusSilence}                 // 960 samples
	o2x10 := [][]byte{{0x21 | 0x01, 0x00, 0x00}} // code 1: two 10 ms SILK frames
	aac := [][]byte{{0x21, 0x10, 0x04}}
	cases := []struct {
		name  string
		track *media.Track
		in    []pushed
		want  [][2]uint64
	}{
		{"steady", opus, []pushed{{0, 0, false, o20}, {0, 20 * ms, false, o20}, {0, 40 * ms, false, o20}},
			[][2]uint64{{0, 960}, {960, 960}, {1920, 960}}},
		{"jitter snaps to the timeline", opus, []pushed{{0, 0, false, o20}, {0, 23 * ms, false, o20}, {0, 38 * ms, false, o20}},
			[][2]uint64{{0, 960}, {960, 960}, {1920, 960}}},
		{"a gap stays a gap", opus, []pushed{{0, 0, false, o20}, {0, 60 * ms, false, o20}},
			[][2]uint64{{0, 960}, {2880, 960}}},
		{"a repeat is dropped", opus, []pushed{{0, 0, false, o20}, {0, 20 * ms, false, o20}, {0, 20 * ms, false, o20}, {0, 40 * ms, false, o20}},
			[][2]uint64{{0, 960}, {960, 960}, {1920, 960}}},
		{"two frames in a packet", opus, []pushed{{0, 0, false, o2x10}, {0, 20 * ms, false, o20}},
			[][2]uint64{{0, 960}, {960, 960}}},
		{"several packets in a unit", opus, []pushed{{0, 100 * ms, false, [][]byte{opusSilence, opusSilence}}, {0, 140 * ms, false, o20}},
			[][2]uint64{{0, 960}, {960, 960}, {1920, 960}}},
		{"aac 960-sample frames", aac960, []pushed{{0, 0, false, aac}, {0, 20 * ms, false, aac}},
			[][2]uint64{{0, 960}, {960, 960}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			parts, err := mux(t, []*media.Track{tc.track}, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := audioTimes(parts, 1); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("audio samples (time, duration) %v, want %v", got, tc.want)
			}
		})
	}
}

// TestAudioFollowsItsVideoFrame: audio goes into the fragment of the video
// frame it follows; it starts at the keyframe's time; a gap inside a
// fragment lengthens the frame before it.
func TestAudioFollowsItsVideoFrame(t *testing.T) {
	g, _ := sim.NewGenerator(64, 48, testFPS, testGOP, nil)
	key, _ := g.Next()
	p1, _ := g.Next()
	p2, _ := g.Next()
	tracks := []*media.Track{h264Track(), opusSource().Track}
	ms := time.Millisecond
	o := [][]byte{opusSilence}
	parts, err := mux(t, tracks, []pushed{
		{1, 980 * ms, false, o}, // before the first keyframe: dropped
		{0, 1000 * ms, true, key},
		{1, 990 * ms, false, o}, // before decode time zero: dropped
		{1, 1000 * ms, false, o},
		{1, 1020 * ms, false, o},
		{1, 1060 * ms, false, o}, // 20 ms lost before it
		{0, 1100 * ms, false, p1},
		{1, 1080 * ms, false, o},
		{0, 1140 * ms, false, p2},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 2 {
		t.Fatalf("%d fragments, want 2", len(parts))
	}
	var video [][2]uint64
	for i, p := range parts {
		if p.Tracks[0].ID != 1 || len(p.Tracks) != 2 || p.Tracks[1].ID != 2 {
			t.Fatalf("fragment %d: want a video and an audio track", i)
		}
		video = append(video, [2]uint64{p.Tracks[0].BaseTime, uint64(p.Tracks[0].Samples[0].Duration)})
	}
	if want := [][2]uint64{{0, 9000}, {9000, 3600}}; !reflect.DeepEqual(video, want) {
		t.Fatalf("video (time, duration) %v, want %v", video, want)
	}
	want := [][2]uint64{{0, 960}, {960, 1920}, {2880, 960}, {3840, 960}}
	if got := audioTimes(parts, 2); !reflect.DeepEqual(got, want) {
		t.Fatalf("audio (time, duration) %v, want %v", got, want)
	}
	if n := len(parts[0].Tracks[1].Samples); n != 3 {
		t.Fatalf("first fragment holds %d audio samples, want the 3 after its frame", n)
	}
}

func TestParamsChangedEndsStream(t *testing.T) {
	small, _ := sim.NewGenerator(64, 48, testFPS, testGOP, nil)
	big, _ := sim.NewGenerator(128, 96, testFPS, testGOP, nil)
	k1, _ := small.Next()
	p1, _ := small.Next()
	k2, _ := big.Next()
	parts, err := mux(t, []*media.Track{h264Track()}, []pushed{
		{0, 0, true, k1}, {0, 40 * time.Millisecond, false, p1}, {0, 80 * time.Millisecond, true, k2},
	})
	if !errors.Is(err, ErrParamsChanged) {
		t.Fatalf("got %v, want ErrParamsChanged", err)
	}
	if len(parts) != 1 {
		t.Fatalf("%d fragments written, want only the first frame's", len(parts))
	}
}

// TestVideoTimestamps: decode times start at zero, follow the PTS, never go
// back; a frame that repeats its predecessor's time is still written.
func TestVideoTimestamps(t *testing.T) {
	g, _ := sim.NewGenerator(64, 48, testFPS, testGOP, nil)
	var in []pushed
	for _, pts := range []time.Duration{5 * time.Second, 5040 * time.Millisecond, 5040 * time.Millisecond, 5120 * time.Millisecond, 7 * time.Second} {
		au, key := g.Next()
		in = append(in, pushed{0, pts, key, au})
	}
	parts, err := mux(t, []*media.Track{h264Track()}, in)
	if err != nil {
		t.Fatal(err)
	}
	var got [][2]uint64
	for _, p := range parts {
		got = append(got, [2]uint64{p.Tracks[0].BaseTime, uint64(p.Tracks[0].Samples[0].Duration)})
	}
	want := [][2]uint64{{0, 3600}, {3600, 1}, {3601, 7199}, {10800, 169200}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("video (time, duration) %v, want %v", got, want)
	}
}

// TestWaitsForKeyframe: pictures before the first keyframe cannot be
// decoded, so the output starts at the keyframe, at decode time zero.
func TestWaitsForKeyframe(t *testing.T) {
	g, _ := sim.NewGenerator(64, 48, testFPS, 3, nil)
	var in []pushed
	for n := range 6 {
		au, key := g.Next()
		if n == 0 {
			continue // joined after the keyframe
		}
		in = append(in, pushed{0, time.Duration(n) * 40 * time.Millisecond, key, au})
	}
	parts, err := mux(t, []*media.Track{h264Track()}, in)
	if err != nil {
		t.Fatal(err)
	}
	// Frames 3 (the keyframe) and 4 are written; 5 waits for its successor.
	if len(parts) != 2 {
		t.Fatalf("%d fragments, want 2", len(parts))
	}
	first := parts[0].Tracks[0]
	if first.BaseTime != 0 || first.Samples[0].IsNonSyncSample || !parts[1].Tracks[0].Samples[0].IsNonSyncSample {
		t.Fatalf("first fragment base %d, sync %v: want the keyframe at 0", first.BaseTime, !first.Samples[0].IsNonSyncSample)
	}
}
