package rtsp

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/pion/rtp"

	"vigil/internal/access"
	"vigil/internal/hub"
	"vigil/internal/media"
)

func TestPacketCacheSharesAndStaysBounded(t *testing.T) {
	h := hub.New(hub.Config{})
	f := &format.H264{PayloadTyp: 96, PacketizationMode: 1}
	pub, _ := h.Publish("cam-a", access.StreamMain, []*media.Track{{Kind: media.Video, Format: f}})
	r, _ := h.Read(issuer.Mint("u", "cam-a", access.AudienceRTSP, time.Hour), access.StreamMain)
	c := newPacketCache()
	big := make([]byte, 32<<10)
	big[0] = 0x65
	for n := range 400 {
		pub.Write(0, hub.UnitData{PTS: time.Duration(n), Key: n == 0, Payload: [][]byte{append([]byte(nil), big...)}})
	}
	first := next(t, r)
	a, err := c.get(first, f)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := c.get(first, f)
	if &a[0] != &b[0] {
		t.Fatal("the same unit was packetized twice")
	}
	for range 300 {
		c.get(next(t, r), f)
	}
	if units, bytes := c.cache.Len(); bytes > packetCacheBytes || units > packetCacheUnits {
		t.Fatalf("cache holds %d units, %d bytes: over its bounds", units, bytes)
	}
	if c.cache.Has(first) {
		t.Fatal("the oldest unit was not evicted")
	}
}

func next(t *testing.T, r *hub.Reader) *media.Unit {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	u, err := r.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestPacketizerRoundTrip: units of small and large NAL units, H.264 and
// H.265, packetized without copying come back whole through gortsplib's
// depacketizers (an independent implementation of RFC 6184 and 7798), no
// payload over maxPayload, the last packet marked, the unit's bytes
// referred to, not copied.
func TestPacketizerRoundTrip(t *testing.T) {
	nal := func(hdr []byte, n int) []byte {
		b := append([]byte(nil), hdr...)
		for i := range n {
			b = append(b, byte(i*7+1))
		}
		return b
	}
	for _, tc := range []struct {
		name   string
		f      format.Format
		unit   [][]byte
		decode func([]*rtp.Packet) ([][]byte, error)
	}{
		{"h264", &format.H264{PayloadTyp: 96, PacketizationMode: 1},
			[][]byte{nal([]byte{0x67}, 20), nal([]byte{0x68}, 3), nal([]byte{0x65}, 5000), nal([]byte{0x65}, 1449), nal([]byte{0x65}, 1450)},
			func(pkts []*rtp.Packet) ([][]byte, error) {
				d, _ := (&format.H264{PayloadTyp: 96, PacketizationMode: 1}).CreateDecoder()
				var out [][]byte
				var err error
				for _, p := range pkts {
					out, err = d.Decode(p)
				}
				return out, err
			}},
		{"h265", &format.H265{PayloadTyp: 96},
			[][]byte{nal([]byte{0x40, 0x01}, 20), nal([]byte{0x42, 0x01}, 30), nal([]byte{0x26, 0x01}, 4000), nal([]byte{0x02, 0x01}, 1448)},
			func(pkts []*rtp.Packet) ([][]byte, error) {
				d, _ := (&format.H265{PayloadTyp: 96}).CreateDecoder()
				var out [][]byte
				var err error
				for _, p := range pkts {
					out, err = d.Decode(p)
				}
				return out, err
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc, err := newEncoder(tc.f)
			if err != nil {
				t.Fatal(err)
			}
			u := media.NewUnit(media.Owner{Device: "cam-a"}, 1, 0, 0, true, time.Now(), tc.unit)
			pkts, err := enc(u)
			if err != nil {
				t.Fatal(err)
			}
			var rtps []*rtp.Packet
			for i, p := range pkts {
				if p.size() > maxPayload || p.marker != (i == len(pkts)-1) {
					t.Fatalf("packet %d: %d bytes, marker %v", i, p.size(), p.marker)
				}
				r := p.rtp(0)
				r.SequenceNumber = uint16(i)
				rtps = append(rtps, r)
			}
			got, err := tc.decode(rtps)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.unit) {
				t.Fatalf("%d NAL units back, want %d", len(got), len(tc.unit))
			}
			for i := range got {
				if !bytes.Equal(got[i], tc.unit[i]) {
					t.Fatalf("NAL unit %d differs", i)
				}
			}
			last := pkts[len(pkts)-1].body
			if end := tc.unit[len(tc.unit)-1]; &last[len(last)-1] != &end[len(end)-1] {
				t.Fatal("the packets copy the unit's payload")
			}
		})
	}
}

// BenchmarkPacketize is one P-frame of the bench's small camera (2.5 KB)
// packetized by the zero-copy packetizer and by gortsplib's.
func BenchmarkPacketize(b *testing.B) {
	f := &format.H264{PayloadTyp: 96, PacketizationMode: 1}
	u := media.NewUnit(media.Owner{Device: "cam-a"}, 1, 0, 0, false, time.Now(), [][]byte{append([]byte{0x41}, make([]byte, 2500)...)})
	zero, _ := newEncoder(f)
	e, _ := f.CreateEncoder()
	for _, tc := range []struct {
		name string
		enc  encoder
	}{{"zero-copy", zero}, {"gortsplib", shared(func(u *media.Unit) ([]*rtp.Packet, error) { return e.Encode(u.Payload) })}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := tc.enc(u); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
