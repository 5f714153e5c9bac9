package fmp4read

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
)

// box returns an ISO BMFF box of type typ around payload.
func box(typ string, payload []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(8+len(payload)))
	return append(append(b, typ...), payload...)
}

// sps and pps are a 1920×1080 H.264 stream's parameter sets.
var (
	sps = []byte{0x67, 0x42, 0xc0, 0x28, 0xd9, 0x00, 0x78, 0x02, 0x27, 0xe5, 0x84, 0x00, 0x00, 0x03, 0x00, 0x04,
		0x00, 0x00, 0x03, 0x00, 0xf0, 0x3c, 0x60, 0xc9, 0x20}
	pps = []byte{0x08, 0x06, 0x07, 0x08}
)

// initSegment marshals an init segment: H.264 on track 1 at 90 kHz, G.711
// on track 2 at 8 kHz.
func initSegment(t testing.TB) []byte {
	t.Helper()
	in := fmp4.Init{Tracks: []*fmp4.InitTrack{
		{ID: 1, TimeScale: 90000, Codec: &codecs.H264{SPS: sps, PPS: pps}},
		{ID: 2, TimeScale: 8000, Codec: &codecs.LPCM{BitDepth: 16, SampleRate: 8000, ChannelCount: 1}},
	}}
	var buf seekablebuffer.Buffer
	if err := in.Marshal(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// fragment marshals one moof+mdat: access units on track 1 from base
// time 9000, 3600 ticks apart, the first a sync sample; then one sample
// of 0xFF bytes on track 2.
func fragment(t testing.TB, aus ...[][]byte) []byte {
	t.Helper()
	video := &fmp4.PartTrack{ID: 1, BaseTime: 9000}
	for i, au := range aus {
		payload, err := h264.AVCC(au).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		video.Samples = append(video.Samples, &fmp4.Sample{Duration: 3600, IsNonSyncSample: i > 0, Payload: payload})
	}
	audio := &fmp4.PartTrack{ID: 2, BaseTime: 800, Samples: []*fmp4.Sample{{Duration: 160, Payload: bytes.Repeat([]byte{0xff}, 160)}}}
	var buf seekablebuffer.Buffer
	if err := (fmp4.Part{SequenceNumber: 1, Tracks: []*fmp4.PartTrack{video, audio}}).Marshal(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestReadBox(t *testing.T) {
	large := append(binary.BigEndian.AppendUint32(nil, 1), "free"...)
	large = append(binary.BigEndian.AppendUint64(large, 20), 1, 2, 3, 4)
	for _, tc := range []struct {
		name    string
		in      []byte
		typ     string
		size    int
		wantErr error
	}{
		{"plain", box("ftyp", []byte("isom")), "ftyp", 12, nil},
		{"largesize", large, "free", 20, nil},
		{"to end of file", append(binary.BigEndian.AppendUint32(nil, 0), "mdat"...), "", 0, ErrBoxSize},
		{"smaller than header", append(binary.BigEndian.AppendUint32(nil, 4), "mdat"...), "", 0, ErrBoxSize},
		{"over MaxBox", append(binary.BigEndian.AppendUint32(nil, MaxBox+1), "mdat"...), "", 0, ErrBoxSize},
		{"truncated", box("moof", make([]byte, 10))[:12], "", 0, io.ErrUnexpectedEOF},
		{"empty", nil, "", 0, io.EOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			typ, b, err := ReadBox(bytes.NewReader(tc.in))
			if !errors.Is(err, tc.wantErr) || typ != tc.typ || len(b) != tc.size {
				t.Fatalf("ReadBox = %q, %d bytes, %v; want %q, %d bytes, %v", typ, len(b), err, tc.typ, tc.size, tc.wantErr)
			}
		})
	}
}

// TestStream reads a progressive stream as Vigil's live.mp4 lays it out:
// the init segment, then fragments; every sample comes back on its track
// with its decode time and sync flag.
func TestStream(t *testing.T) {
	idr := []byte{0x65, 0x88, 0x84, 0x00}
	p := []byte{0x41, 0x9a, 0x00}
	frag := fragment(t, [][]byte{sps, pps, idr}, [][]byte{p})
	stream := append(initSegment(t), frag...)
	r := bytes.NewReader(stream)

	in, err := ReadInit(r)
	if err != nil {
		t.Fatal(err)
	}
	video, ok := in.H264()
	if len(in.Tracks) != 2 || !ok || video.ID != 1 || video.Timescale != 90000 {
		t.Fatalf("init = %+v, H264() = %+v, %v; want 2 tracks, H.264 on 1 at 90 kHz", in, video, ok)
	}
	got, err := ReadFragment(r)
	if err != nil || !bytes.Equal(got, frag) {
		t.Fatalf("ReadFragment = %d bytes, %v; want the %d of moof+mdat", len(got), err, len(frag))
	}
	samples, err := Samples(got)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		track int
		dts   uint64
		sync  bool
		at    time.Duration
	}{{1, 9000, true, 100 * time.Millisecond}, {1, 12600, false, 140 * time.Millisecond}, {2, 800, true, 100 * time.Millisecond}}
	if len(samples) != len(want) {
		t.Fatalf("%d samples, want %d", len(samples), len(want))
	}
	for i, w := range want {
		s := samples[i]
		at, ok := in.Time(s)
		if s.Track != w.track || s.DTS != w.dts || s.Sync != w.sync || !ok || at != w.at {
			t.Errorf("sample %d = track %d dts %d sync %v at %v; want %+v", i, s.Track, s.DTS, s.Sync, at, w)
		}
	}
	if au, err := samples[0].H264(); err != nil || len(au) != 3 || !h264.IsRandomAccess(au) {
		t.Errorf("H264() of the IDR = %d units, %v", len(au), err)
	}
	if _, err := samples[2].H264(); err == nil {
		t.Error("H264() of 0xFF audio parsed as AVCC")
	}
	if _, err := ReadFragment(r); !errors.Is(err, io.EOF) {
		t.Errorf("after the last fragment: %v, want EOF", err)
	}
}

func TestReadInitRefusesFragmentFirst(t *testing.T) {
	frag := fragment(t, [][]byte{{0x65, 0x88}})
	if _, err := ReadInit(bytes.NewReader(frag)); !errors.Is(err, ErrNoMoov) {
		t.Fatalf("ReadInit of a bare fragment = %v, want ErrNoMoov", err)
	}
}

// FuzzSamples feeds Samples and ParseInit arbitrary bytes: they must
// return errors, not panic, and every sample must lie within the input.
func FuzzSamples(f *testing.F) {
	f.Add(fragment(f, [][]byte{sps, pps, {0x65, 0x88, 0x84, 0x00}}, [][]byte{{0x41, 0x9a}}))
	f.Add(initSegment(f))
	f.Add(box("moof", nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		if samples, err := Samples(b); err == nil {
			total := 0
			for _, s := range samples {
				total += len(s.Payload)
				s.H264()
			}
			if total > len(b) {
				t.Fatalf("%d payload bytes from %d input bytes", total, len(b))
			}
		}
		ParseInit(b)
		r := bytes.NewReader(b)
		for {
			if _, err := ReadFragment(r); err != nil {
				break
			}
		}
	})
}
