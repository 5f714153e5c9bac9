package main

import (
	"errors"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"

	"vigil/internal/fmp4read"
	"vigil/internal/sim"
)

// fragment marshals one moof+mdat: access units on track 2 (the video),
// after a track 1 of 0xFF audio.
func fragment(t *testing.T, aus ...[][]byte) []byte {
	t.Helper()
	audio := &fmp4.PartTrack{ID: 1, Samples: []*fmp4.Sample{{Duration: 160, Payload: []byte{0xff, 0xff, 0xff, 0xff, 0xff}}}}
	video := &fmp4.PartTrack{ID: 2}
	for i, au := range aus {
		payload, err := h264.AVCC(au).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		video.Samples = append(video.Samples, &fmp4.Sample{Duration: 3600, IsNonSyncSample: i > 0, Payload: payload})
	}
	var buf seekablebuffer.Buffer
	if err := (fmp4.Part{SequenceNumber: 1, Tracks: []*fmp4.PartTrack{audio, video}}).Marshal(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestVideoSamplesAndStamp: the samples of the init's H.264 track come
// back, with the IDR read from their NAL units, and the camera's stamp is
// found under its key only.
func TestVideoSamplesAndStamp(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	when := time.Unix(1700000000, 123456789)
	stamp := sim.StampNALU(key, sim.Stamp{Camera: "cam-a", Seq: 7, Time: when})
	idr := []byte{0x65, 0x88, 0x84, 0x00}
	p := []byte{0x41, 0x9a, 0x00}
	frag := fragment(t, [][]byte{stamp, idr}, [][]byte{p})
	in := fmp4read.Init{Tracks: []fmp4read.Track{{ID: 1, Timescale: 8000, Codec: &codecs.LPCM{}}, {ID: 2, Timescale: 90000, Codec: &codecs.H264{}}}}

	samples, err := videoSamples(in, frag)
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) != 2 || !samples[0].idr || samples[1].idr {
		t.Fatalf("samples = %+v, want an IDR then a non-IDR", samples)
	}
	s, ok := stampOf(samples[0].nalus, sim.StaticKeys(nil))
	if ok {
		t.Fatalf("stamp under the wrong key accepted: %+v", s)
	}
	s, ok = stampOf(samples[0].nalus, func(string) []byte { return key })
	if !ok || s.Seq != 7 || !s.Time.Equal(when) {
		t.Fatalf("stampOf = %+v, %v; want seq 7 at %s", s, ok, when)
	}
	if _, ok := stampOf(samples[1].nalus, func(string) []byte { return key }); ok {
		t.Fatal("stamp found in an unstamped sample")
	}
	if _, err := videoSamples(fmp4read.Init{Tracks: in.Tracks[:1]}, frag); !errors.Is(err, errNoH264) {
		t.Fatalf("videoSamples without an H.264 track = %v, want errNoH264", err)
	}
}
