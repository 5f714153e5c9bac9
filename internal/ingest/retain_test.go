package ingest

import (
	"bytes"
	"context"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"slices"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtpmpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/pion/rtp"

	"vigil/internal/access"
	"vigil/internal/hub"
	"vigil/internal/media"
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
// assembled, 27 KiB with a unit assembled in a buffer of the camera's
// own (the room of a usual unit or two kept). Keeping that buffer at a keyframe's size would cost
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
	if limit := int64(cameras * 30 << 10); over > limit {
		t.Fatalf("units retain %d KiB beyond the %d KiB their GOP caches count, want under %d KiB (30 KiB a camera)", over>>10, cached>>10, limit>>10)
	}
	runtime.KeepAlive(cams)
}

// TestDecoderRetains: a caller that reads every packet into one buffer it
// reuses (the direct ingest) gets whole units when it copies the packets
// of the tracks Retains names and no others. An AAC unit fragmented over
// three packets is joined by gortsplib's decoder from the packets
// themselves (it is garbled if they are overwritten before it is
// complete); a video track's depacketizer copies as packets arrive.
func TestDecoderRetains(t *testing.T) {
	aac := &format.MPEG4Audio{PayloadTyp: 97, SizeLength: 13, IndexLength: 3, IndexDeltaLength: 3,
		Config: &mpeg4audio.AudioSpecificConfig{Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 48000, ChannelCount: 1}}
	tracks := []*media.Track{fuzzTracks()[0], {Kind: media.Audio, Format: aac}}
	h, pub, dec := publishDecoder(t, "cam-aac", tracks)
	if dec.Retains(pub.Tracks()[0].Format) || !dec.Retains(pub.Tracks()[1].Format) {
		t.Fatalf("Retains: video %v, audio %v; want false, true", dec.Retains(pub.Tracks()[0].Format), dec.Retains(pub.Tracks()[1].Format))
	}
	r, err := h.Read(issuer.Mint("admin", "cam-aac", access.AudienceRTSP, time.Hour), access.StreamMain)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	enc := &rtpmpeg4audio.Encoder{PayloadType: 97, SizeLength: 13, IndexLength: 3, IndexDeltaLength: 3, PayloadMaxSize: 120}
	if err := enc.Init(); err != nil {
		t.Fatal(err)
	}
	au := make([]byte, 300)
	for i := range au {
		au[i] = byte(i*7 + 1)
	}
	pkts, err := enc.Encode([][]byte{au})
	if err != nil || len(pkts) < 3 {
		t.Fatalf("%d packets, %v; want a fragmented AU", len(pkts), err)
	}
	var video uint16
	feed := func(f format.Format, pkt *rtp.Packet) {
		read := make([]byte, len(pkt.Payload)) // the caller's read buffer
		copy(read, pkt.Payload)
		pkt.Payload = read
		if dec.Retains(f) {
			pkt.Payload = bytes.Clone(read)
		}
		if err := dec.Packet(f, pkt, int64(pkt.Timestamp)); err != nil {
			t.Fatal(err)
		}
		clear(read) // the next read overwrites it
	}
	// A keyframe first: readers start at one.
	idr := append([]byte{0x65}, bytes.Repeat([]byte{0x5a}, 3000)...)
	for _, nal := range [][]byte{testSPS, testPPS} {
		video++
		feed(pub.Tracks()[0].Format, &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: video}, Payload: nal})
	}
	for _, p := range fuPackets(idr, &video, 0) {
		feed(pub.Tracks()[0].Format, p)
	}
	for _, p := range pkts {
		feed(pub.Tracks()[1].Format, p)
	}
	done, cancel := context.WithCancel(context.Background())
	cancel()
	var got [][]byte
	for {
		u, err := r.Next(done)
		if err != nil {
			break
		}
		if u.Track == 1 {
			got = append(got, u.Payload...)
		} else if !slices.ContainsFunc(u.Payload, func(n []byte) bool { return bytes.Equal(n, idr) }) {
			t.Fatalf("the keyframe came out garbled: NAL units of %v bytes", lens(u.Payload))
		}
	}
	if len(got) != 1 || !bytes.Equal(got[0], au) {
		t.Fatalf("audio units %d, the first equal to what was sent: %v", len(got), len(got) > 0 && bytes.Equal(got[0], au))
	}
}
