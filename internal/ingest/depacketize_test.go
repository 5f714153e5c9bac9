package ingest

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"runtime/metrics"
	"slices"
	"testing"

	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph265"
	"github.com/pion/rtp"
)

// testAU is an access unit of n NAL units of random sizes (up to max
// bytes), with the header byte(s) of typ and bytes that never form a start
// code (as emulation prevention guarantees).
func testAU(rng *rand.Rand, isH265 bool, n, max int) [][]byte {
	au := make([][]byte, n)
	for i := range au {
		b := make([]byte, 3+rng.IntN(max))
		for j := range b {
			b[j] = byte(1 + rng.IntN(255))
		}
		if isH265 {
			b[0], b[1] = 1<<1, 1 // TRAIL_R
		} else {
			b[0] = 0x41 // P slice
		}
		au[i] = b
	}
	return au
}

// encoder packetizes access units as a camera would: small NAL units
// aggregated (STAP-A, AP), large ones fragmented (FU-A, FU).
func encoder(t testing.TB, isH265 bool) func([][]byte) []*rtp.Packet {
	var e interface {
		Init() error
		Encode([][]byte) ([]*rtp.Packet, error)
	} = &rtph264.Encoder{PayloadType: 96, PayloadMaxSize: 1200, PacketizationMode: 1}
	if isH265 {
		e = &rtph265.Encoder{PayloadType: 96, PayloadMaxSize: 1200}
	}
	if err := e.Init(); err != nil {
		t.Fatal(err)
	}
	return func(au [][]byte) []*rtp.Packet {
		pkts, err := e.Encode(au)
		if err != nil {
			t.Fatal(err)
		}
		return pkts
	}
}

// TestDepacketizerGivesBackWhatWasPacketized: units packetized by
// gortsplib's encoders (single NAL units, aggregates, fragments) come back
// byte for byte, one unit per marker, with their own timestamps, and in
// buffers that no packet shares: each packet is overwritten once decoded
// (the direct ingest reads the next into the same buffer) and the units
// stay the same (invariant 6).
func TestDepacketizerGivesBackWhatWasPacketized(t *testing.T) {
	for _, isH265 := range []bool{false, true} {
		rng := rand.New(rand.NewPCG(1, 2))
		enc := encoder(t, isH265)
		d := newDepacketizer(isH265)
		type unit struct {
			nalus [][]byte
			pts   int64
		}
		var got []unit
		emit := func(nalus [][]byte, pts int64) error {
			got = append(got, unit{nalus, pts})
			return nil
		}
		var want [][][]byte
		for i := range 200 {
			au := testAU(rng, isH265, 1+rng.IntN(4), []int{50, 900, 5000}[rng.IntN(3)])
			want = append(want, slices.Clone(au))
			for j := range au {
				au[j] = bytes.Clone(au[j]) // the encoder may send it as the packet
			}
			pkts := enc(au)
			for _, p := range pkts {
				p.Timestamp = uint32(i * 3600)
				err := d.decode(p, int64(i), emit)
				if err != nil && !errors.Is(err, errMorePackets) {
					t.Fatalf("unit %d: %v", i, err)
				}
				clear(p.Payload) // decoded: the packet's buffer is read into the next
			}
		}
		if len(got) != len(want) {
			t.Fatalf("h265=%v: %d units, want %d", isH265, len(got), len(want))
		}
		for i, u := range got {
			if u.pts != int64(i) || !slices.EqualFunc(u.nalus, want[i], bytes.Equal) {
				t.Fatalf("h265=%v: unit %d (pts %d) differs from what was sent: %d NALs %v, want %v", isH265, i, u.pts, len(u.nalus), lens(u.nalus), lens(want[i]))
			}
		}
	}
}

// TestDepacketizerEdges: the cases a camera's stream brings besides the
// happy path.
func TestDepacketizerEdges(t *testing.T) {
	pkt := func(seq uint16, ts uint32, marker bool, payload ...byte) *rtp.Packet {
		return &rtp.Packet{Header: rtp.Header{SequenceNumber: seq, Timestamp: ts, Marker: marker}, Payload: payload}
	}
	tests := []struct {
		name  string
		h265  bool
		pkts  []*rtp.Packet
		want  [][][]byte
		fails int // decode errors (not waits)
	}{
		{"H.264 FU-A lost fragment drops the NAL unit", false, []*rtp.Packet{
			pkt(1, 0, false, 0x7c, 0x85, 1, 2), pkt(3, 0, false, 0x7c, 0x05, 3), pkt(4, 0, true, 0x7c, 0x45, 4),
			pkt(5, 3600, true, 0x41, 9),
		}, [][][]byte{{{0x41, 9}}}, 2},
		{"H.264 joined mid-fragment", false, []*rtp.Packet{
			pkt(1, 0, false, 0x7c, 0x05, 3), pkt(2, 0, true, 0x7c, 0x45, 4), pkt(3, 3600, true, 0x41, 9),
		}, [][][]byte{{{0x41, 9}}}, 0},
		{"H.264 FU-A with start and end (camera quirk)", false, []*rtp.Packet{
			pkt(1, 0, true, 0x7c, 0xc1, 7, 8),
		}, [][][]byte{{{0x61, 7, 8}}}, 0},
		{"H.264 no marker: the next timestamp ends a unit", false, []*rtp.Packet{
			pkt(1, 0, false, 0x65, 1), pkt(2, 3600, false, 0x41, 2), pkt(3, 7200, true, 0x41, 3),
		}, [][][]byte{{{0x65, 1}}, {{0x41, 2}}, {{0x41, 3}}}, 0},
		{"H.264 STAP-A with padding", false, []*rtp.Packet{
			pkt(1, 0, true, 0x78, 0, 2, 0x67, 1, 0, 2, 0x68, 2, 0, 0, 0),
		}, [][][]byte{{{0x67, 1}, {0x68, 2}}}, 0},
		{"H.264 STAP-A truncated adds nothing", false, []*rtp.Packet{
			pkt(1, 0, false, 0x78, 0, 2, 0x67, 1, 0, 9, 0x68), pkt(2, 0, true, 0x65, 5),
		}, [][][]byte{{{0x65, 5}}}, 1},
		{"H.264 Annex B inside a NAL unit is split", false, []*rtp.Packet{
			pkt(1, 0, true, 0, 0, 0, 1, 0x67, 1, 0, 0, 1, 0x68, 2, 0, 0, 0, 1, 0x65, 3),
		}, [][][]byte{{{0x67, 1}, {0x68, 2}, {0x65, 3}}}, 0},
		{"H.264 STAP-B unsupported", false, []*rtp.Packet{pkt(1, 0, true, 0x19, 1)}, nil, 1},
		{"H.265 FU", true, []*rtp.Packet{
			pkt(1, 0, false, 49<<1, 1, 0x80|19, 1, 2), pkt(2, 0, true, 49<<1, 1, 0x40|19, 3),
		}, [][][]byte{{{19 << 1, 1, 1, 2, 3}}}, 0},
		{"H.265 FU with start and end refused", true, []*rtp.Packet{pkt(1, 0, true, 49<<1, 1, 0xc0|19, 1)}, nil, 1},
		{"H.265 AP", true, []*rtp.Packet{
			pkt(1, 0, true, 48<<1, 1, 0, 3, 32<<1, 1, 5, 0, 3, 33<<1, 1, 6),
		}, [][][]byte{{{32 << 1, 1, 5}, {33 << 1, 1, 6}}}, 0},
		{"H.265 PACI unsupported", true, []*rtp.Packet{pkt(1, 0, true, 50<<1, 1, 0)}, nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDepacketizer(tt.h265)
			var got [][][]byte
			fails := 0
			for _, p := range tt.pkts {
				err := d.decode(p, 0, func(n [][]byte, _ int64) error { got = append(got, n); return nil })
				if err != nil && !errors.Is(err, errMorePackets) && !errors.Is(err, errNoStart) {
					fails++
				}
			}
			if fails != tt.fails {
				t.Errorf("%d decode errors, want %d", fails, tt.fails)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("units %x, want %x", got, tt.want)
			}
			for i := range got {
				if !slices.EqualFunc(got[i], tt.want[i], bytes.Equal) {
					t.Fatalf("unit %d: %x, want %x", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// BenchmarkDepacketize: one 0.5 Mbit/s camera's P-frame (~2.5 KB, two
// FU-A packets) and keyframe (~40 KB), through gortsplib's depacketizer
// and a copy into a unit-owned buffer (what ingest did) and through ours.
// Ours copies each byte twice too (into the unit being assembled, then
// into the unit's own buffer) but allocates only the unit's buffer and
// its slice header (2 allocs/op), whatever the packets.
func BenchmarkDepacketize(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{2500, 40000} {
		nal := testAU(rng, false, 1, size)[0]
		for len(nal) < size {
			nal = append(nal, nal[1:]...)
		}
		au := [][]byte{nal[:size]}
		pkts := encoder(b, false)(au)
		b.Run(sizeName(size)+"/gortsplib+own", func(b *testing.B) {
			dec := &rtph264.Decoder{PacketizationMode: 1}
			if err := dec.Init(); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				for _, p := range pkts {
					if nalus, err := dec.Decode(p); err == nil {
						own(nalus)
					}
				}
			}
		})
		b.Run(sizeName(size)+"/depacketizer", func(b *testing.B) {
			d := newDepacketizer(false)
			emit := func([][]byte, int64) error { return nil }
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				for _, p := range pkts {
					d.decode(p, 0, emit)
				}
			}
		})
	}
}

func sizeName(n int) string {
	if n >= 10000 {
		return "keyframe"
	}
	return "pframe"
}

func lens(n [][]byte) []int {
	var l []int
	for _, b := range n {
		l = append(l, len(b))
	}
	return l
}

// TestDepacketizerGarbage: the buffer units are assembled in costs little
// besides the units themselves, for a small camera and a 4 Mbit/s one:
// per GOP at most a tenth of its bytes more than it holds, and twice its
// keyframe (the keyframe's assembly, then the room for the next P-frame).
// Keeping a fixed 4 KiB (86c7fc7) cost 2.2 MiB per 0.6 MiB GOP of the
// large camera and 214 KB per 90 KB GOP of the small one (P-frames over
// 4 KiB grown at once to the keyframe's size); following the sizes
// without the hysteresis in reset cost as much for the small one (a room
// made anew for every unit as it shrank); now 0.89 MB and 127 KB.
func TestDepacketizerGarbage(t *testing.T) {
	for _, cam := range []struct {
		name        string
		key, pframe int
	}{{"0.5 Mbit/s", 20000, 3000}, {"4 Mbit/s", 150000, 20000}} {
		t.Run(cam.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(5, 6))
			d := newDepacketizer(false)
			emit := func([][]byte, int64) error { return nil }
			var seq uint16
			var gop [][]*rtp.Packet
			gopBytes := 0
			for u := range 25 {
				n := cam.pframe/2 + rng.IntN(cam.pframe)
				nal := make([]byte, n)
				nal[0] = 0x41
				if u == 0 {
					nal = make([]byte, cam.key)
					nal[0] = 0x65
				}
				gopBytes += len(nal)
				gop = append(gop, fuPackets(nal, &seq, uint32(u*3600)))
			}
			send := func() {
				for _, pkts := range gop {
					for _, p := range pkts {
						if err := d.decode(p, 0, emit); err != nil && !errors.Is(err, errMorePackets) {
							t.Fatal(err)
						}
					}
				}
			}
			send()
			// The counter is the process's: other tests' goroutines add to
			// it, never take from it, so the least of a few rounds is ours.
			perGOP := math.MaxInt
			for range 5 {
				s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
				metrics.Read(s)
				before := s[0].Value.Uint64()
				const gops = 10
				for range gops {
					send()
				}
				metrics.Read(s)
				perGOP = min(perGOP, int(s[0].Value.Uint64()-before)/gops)
			}
			if limit := gopBytes + gopBytes/10 + 2*cam.key; perGOP > limit {
				t.Fatalf("%d bytes allocated per GOP of %d bytes (keyframe %d), want at most %d", perGOP, gopBytes, cam.key, limit)
			}
			t.Logf("%d bytes allocated per GOP of %d", perGOP, gopBytes)
		})
	}
}
