package main

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

	"vigil/internal/sim"
)

// box returns an ISO BMFF box of type typ around payload.
func box(typ string, payload []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(8+len(payload)))
	return append(append(b, typ...), payload...)
}

// fragment marshals one moof+mdat holding samples of access units.
func fragment(t *testing.T, aus ...[][]byte) []byte {
	t.Helper()
	track := &fmp4.PartTrack{ID: 1}
	for i, au := range aus {
		payload, err := h264.AVCC(au).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		track.Samples = append(track.Samples, &fmp4.Sample{Duration: 3600, IsNonSyncSample: i > 0, Payload: payload})
	}
	var buf seekablebuffer.Buffer
	if err := (fmp4.Part{SequenceNumber: 1, Tracks: []*fmp4.PartTrack{track}}).Marshal(&buf); err != nil {
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
		{"to end of file", append(binary.BigEndian.AppendUint32(nil, 0), "mdat"...), "", 0, errBoxSize},
		{"smaller than header", append(binary.BigEndian.AppendUint32(nil, 4), "mdat"...), "", 0, errBoxSize},
		{"truncated", box("moof", make([]byte, 10))[:12], "", 0, io.ErrUnexpectedEOF},
		{"empty", nil, "", 0, io.EOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			typ, b, err := readBox(bytes.NewReader(tc.in))
			if !errors.Is(err, tc.wantErr) || typ != tc.typ || len(b) != tc.size {
				t.Fatalf("readBox = %q, %d bytes, %v; want %q, %d bytes, %v", typ, len(b), err, tc.typ, tc.size, tc.wantErr)
			}
		})
	}
}

func TestFragmentSamplesAndStamp(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	when := time.Unix(1700000000, 123456789)
	stamp := sim.StampNALU(key, sim.Stamp{Camera: "cam-a", Seq: 7, Time: when})
	idr := []byte{0x65, 0x88, 0x84, 0x00}
	p := []byte{0x41, 0x9a, 0x00}
	frag := fragment(t, [][]byte{stamp, idr}, [][]byte{p})
	stream := append(box("ftyp", []byte("iso5")), box("moov", nil)...)
	stream = append(stream, frag...)

	got, err := readFragment(bytes.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, frag) {
		t.Fatalf("readFragment returned %d bytes, want the %d of moof+mdat", len(got), len(frag))
	}
	samples, err := videoSamples(got)
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
}
