package ingest

import (
	"log/slog"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"testing"

	"github.com/pion/rtp"

	"vigil/internal/access"
	"vigil/internal/hub"
)

// liveHeap is the heap's live bytes after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// fuPackets packetizes one H.264 NAL unit as FU-A packets of at most 1400
// bytes (RFC 6184 §5.8), the last with the marker bit.
func fuPackets(nal []byte, seq *uint16, ts uint32) []*rtp.Packet {
	var pkts []*rtp.Packet
	body := nal[1:]
	for at := 0; at < len(body); at += 1400 {
		end := min(at+1400, len(body))
		fu := []byte{nal[0]&0xe0 | 28, nal[0] & 0x1f}
		if at == 0 {
			fu[1] |= 0x80
		}
		if end == len(body) {
			fu[1] |= 0x40
		}
		*seq++
		pkts = append(pkts, &rtp.Packet{
			Header:  rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: *seq, Timestamp: ts, Marker: end == len(body)},
			Payload: append(fu, body[at:end]...),
		})
	}
	return pkts
}

// TestRetainedBytesPerCamera: what a camera's units hold in memory is
// their payload, what the GOP cache counts, and little more. 40 cameras
// of the bench's small clip (a 20 KB keyframe, P-frames of 1.5–4.5 KB, 25
// to a GOP) each send six GOPs; the hub then caches the last two, and the
// live heap grows by about their bytes: 20 KiB a camera more with a
// buffer of its own per unit (the allocator's size classes and the
// units' structures) and the packets referred to while a unit is
// assembled, 24 KiB with a unit assembled in a buffer of the camera's own
// (maxKeptUnit kept). Keeping that buffer at a keyframe's size would cost
// 40 KiB; units assembled one after another in shared 16 KiB chunks
// measured 34 KiB: a chunk's tail that the next unit does not fit in is
// lost as long as the chunk lives, and for units a sixth of a chunk that
// loses as much as the size classes do.
func TestRetainedBytesPerCamera(t *testing.T) {
	const cameras, gops, perGOP = 40, 6, 25
	h := hub.New(hub.Config{Logger: slog.New(slog.DiscardHandler)})
	rng := rand.New(rand.NewPCG(3, 4))
	type camera struct {
		pub *hub.Publisher
		dec *Decoder
	}
	var cams []camera
	defer func() {
		for _, c := range cams {
			c.pub.Close()
		}
	}()
	for i := range cameras {
		pub, err := h.Publish(access.DeviceID("cam-"+string(rune('a'+i%26))+string(rune('a'+i/26))), access.StreamMain, fuzzTracks())
		if err != nil {
			t.Fatal(err)
		}
		dec, err := NewDecoder(pub)
		if err != nil {
			t.Fatal(err)
		}
		cams = append(cams, camera{pub, dec})
	}
	fill := func(typ byte, n int) []byte {
		nal := make([]byte, n)
		nal[0] = typ
		for i := 1; i < n; i++ {
			nal[i] = byte(rng.Uint32()) | 1 // no start codes
		}
		return nal
	}
	before := liveHeap()
	var cached int64 // payload bytes of every camera's last two GOPs
	for ci, c := range cams {
		vt := c.pub.Tracks()[0].Format
		var seq uint16
		var gopBytes [gops]int64
		for g := range gops {
			for u := range perGOP {
				nal := fill(0x41, 1500+rng.IntN(3000))
				if u == 0 {
					nal = fill(0x65, 20000)
					gopBytes[g] += int64(len(testSPS) + len(testPPS)) // prefixed to the keyframe
				}
				gopBytes[g] += int64(len(nal))
				ts := uint32((g*perGOP + u) * 3600)
				for _, p := range fuPackets(nal, &seq, ts) {
					if err := c.dec.Packet(vt, p, int64(ts)); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		if c.dec.Errors != 0 {
			t.Fatalf("camera %d: %d decode errors", ci, c.dec.Errors)
		}
		cached += gopBytes[gops-2] + gopBytes[gops-1]
	}
	grown := int64(liveHeap()) - int64(before)
	over := grown - cached
	t.Logf("%d cameras: cache %d KiB, live heap grew %d KiB: %d KiB (%.1f%%) beyond the cache, %.1f KiB a camera",
		cameras, cached>>10, grown>>10, over>>10, 100*float64(over)/float64(cached), float64(over)/cameras/1024)
	if limit := int64(cameras * 28 << 10); over > limit {
		t.Fatalf("units retain %d KiB beyond the %d KiB their GOP caches count, want under %d KiB (28 KiB a camera)", over>>10, cached>>10, limit>>10)
	}
	runtime.KeepAlive(cams)
}
