package ingest

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/pion/rtp"

	"vigil/internal/access"
	"vigil/internal/hub"
	"vigil/internal/media"
)

var issuer = access.NewIssuer()

var (
	testSPS = []byte{
		0x67, 0x42, 0xc0, 0x28, 0xd9, 0x00, 0x78, 0x02, 0x27, 0xe5, 0x84, 0x00, 0x00, 0x03, 0x00, 0x04,
		0x00, 0x00, 0x03, 0x00, 0xf0, 0x3c, 0x60, 0xc9, 0x20,
	}
	testPPS = []byte{0x68, 0xce, 0x3c, 0x80}
)

// publishDecoder publishes tracks as camera d on a new hub and returns
// the hub, the publisher (closed when the test ends) and its decoder.
func publishDecoder(t *testing.T, d access.DeviceID, tracks []*media.Track) (*hub.Hub, *hub.Publisher, *Decoder) {
	t.Helper()
	h := hub.New(hub.Config{Logger: slog.New(slog.DiscardHandler)})
	pub, err := h.Publish(d, access.StreamMain, tracks)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pub.Close)
	dec, err := NewDecoder(pub)
	if err != nil {
		t.Fatal(err)
	}
	return h, pub, dec
}

// fuzzTracks are an H.264 and a G.711 track, as a camera announces them.
func fuzzTracks() []*media.Track {
	return []*media.Track{
		{Kind: media.Video, Format: &format.H264{PayloadTyp: 96, PacketizationMode: 1, SPS: testSPS, PPS: testPPS}},
		{Kind: media.Audio, Format: &format.G711{PayloadTyp: 0, MULaw: true, SampleRate: 8000, ChannelCount: 1}},
	}
}

// fuzzTracks265 are an H.265 and an AAC track, as a camera announces them.
func fuzzTracks265() []*media.Track {
	return []*media.Track{
		{Kind: media.Video, Format: &format.H265{PayloadTyp: 96, VPS: test265VPS, SPS: test265SPS, PPS: test265PPS}},
		{Kind: media.Audio, Format: &format.MPEG4Audio{PayloadTyp: 97, SizeLength: 13, IndexLength: 3, IndexDeltaLength: 3,
			Config: &mpeg4audio.AudioSpecificConfig{Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 48000, ChannelConfig: 1, ChannelCount: 1}}},
	}
}

var (
	test265VPS = []byte{
		0x40, 0x01, 0x0c, 0x01, 0xff, 0xff, 0x02, 0x20, 0x00, 0x00, 0x03, 0x00,
		0xb0, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x00, 0x7b, 0x18, 0xb0, 0x24,
	}
	test265SPS = []byte{
		0x42, 0x01, 0x01, 0x02, 0x20, 0x00, 0x00, 0x03, 0x00, 0xb0, 0x00, 0x00,
		0x03, 0x00, 0x00, 0x03, 0x00, 0x7b, 0xa0, 0x07, 0x82, 0x00, 0x88, 0x7d,
		0xb6, 0x71, 0x8b, 0x92, 0x44, 0x80, 0x53, 0x88, 0x88, 0x92, 0xcf, 0x24,
		0xa6, 0x92, 0x72, 0xc9, 0x12, 0x49, 0x22, 0xdc, 0x91, 0xaa, 0x48, 0xfc,
		0xa2, 0x23, 0xff, 0x00, 0x01, 0x00, 0x01, 0x6a, 0x02, 0x02, 0x02, 0x01,
	}
	test265PPS = []byte{0x44, 0x01, 0xc0, 0x25, 0x2f, 0x05, 0x32, 0x40}
)

// decoderSeeds265: a keyframe whole, in an aggregation packet and in
// fragments (in order, out of order, without a start), a PACI and a
// truncated aggregation packet, AAC with one and two AUs and broken AU
// headers.
func decoderSeeds265() [][]byte {
	idr := append([]byte{0x26, 0x01, 0xaf, 0x08}, bytes.Repeat([]byte{0xab}, 3000)...)
	fu := func(start, end bool, part []byte) []byte {
		h := byte(19) // IDR_W_RADL
		if start {
			h |= 0x80
		}
		if end {
			h |= 0x40
		}
		return append([]byte{49 << 1, 1, h}, part...)
	}
	ap := []byte{48 << 1, 1}
	for _, n := range [][]byte{test265VPS, test265SPS, test265PPS} {
		ap = append(ap, byte(len(n)>>8), byte(len(n)))
		ap = append(ap, n...)
	}
	aac := func(sizes ...int) []byte {
		hdr := []byte{0, byte(16 * len(sizes))} // AU-headers-length in bits
		for _, n := range sizes {
			hdr = append(hdr, byte(n>>5), byte(n<<3))
		}
		for _, n := range sizes {
			hdr = append(hdr, bytes.Repeat([]byte{0x21}, n)...)
		}
		return hdr
	}
	return [][]byte{
		joinPackets(
			record{0, rtpBytes(96, 1, 0, false, test265VPS)},
			record{0, rtpBytes(96, 2, 0, false, test265SPS)},
			record{0, rtpBytes(96, 3, 0, false, test265PPS)},
			record{0, rtpBytes(96, 4, 0, true, idr[:200])},
			record{1, rtpBytes(97, 1, 0, true, aac(40))},
			record{0, rtpBytes(96, 5, 3600, true, []byte{0x02, 0x01, 0xd0, 0x08, 0x40})},
		),
		joinPackets(
			record{0, rtpBytes(96, 1, 0, false, ap)},
			record{0, rtpBytes(96, 2, 0, false, fu(true, false, idr[2:1000]))},
			record{0, rtpBytes(96, 3, 0, false, fu(false, false, idr[1000:2000]))},
			record{0, rtpBytes(96, 4, 0, true, fu(false, true, idr[2000:]))},
			record{1, rtpBytes(97, 1, 0, true, aac(10, 20))},
		),
		joinPackets(
			record{0, rtpBytes(96, 1, 0, false, fu(false, false, idr[1000:2000]))},
			record{0, rtpBytes(96, 2, 0, true, fu(false, true, idr[2000:]))},
			record{0, rtpBytes(96, 3, 0, false, fu(true, false, idr[2:1000]))},
			record{0, rtpBytes(96, 4, 0, false, fu(true, true, idr[2:10]))},
			record{0, rtpBytes(96, 5, 3600, true, []byte{50 << 1, 1, 0, 0})},
		),
		joinPackets(
			record{0, rtpBytes(96, 1, 0, true, ap[:9])},
			record{0, rtpBytes(96, 2, 0, true, []byte{48 << 1, 1, 0xff, 0xff, 0x26})},
			record{0, rtpBytes(96, 3, 0, true, []byte{49 << 1})},
			record{1, rtpBytes(97, 1, 0, true, []byte{0, 16, 0xff, 0xf8})},
			record{1, rtpBytes(97, 2, 0, true, []byte{0xff, 0xff})},
			record{1, rtpBytes(97, 3, 0, true, nil)},
		),
	}
}

// splitPackets reads the fuzz input as records: a track byte (low bit), a
// 2-byte length, then that many bytes of RTP packet.
func splitPackets(data []byte) (tracks []int, pkts [][]byte) {
	for len(data) >= 3 {
		n := int(data[1])<<8 | int(data[2])
		tr := int(data[0] & 1)
		data = data[3:]
		n = min(n, len(data))
		tracks, pkts = append(tracks, tr), append(pkts, data[:n])
		data = data[n:]
	}
	return tracks, pkts
}

// joinPackets is splitPackets' inverse, for seeds.
func joinPackets(recs ...record) []byte {
	var out []byte
	for _, r := range recs {
		out = append(out, byte(r.track), byte(len(r.pkt)>>8), byte(len(r.pkt)))
		out = append(out, r.pkt...)
	}
	return out
}

type record struct {
	track int
	pkt   []byte
}

func rtpBytes(pt uint8, seq uint16, ts uint32, marker bool, payload []byte) []byte {
	b, err := (&rtp.Packet{Header: rtp.Header{
		Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: ts, SSRC: 7, Marker: marker,
	}, Payload: payload}).Marshal()
	if err != nil {
		panic(err)
	}
	return b
}

// decoderSeeds: a good keyframe, FU-A in order, out of order and without a
// start, STAP-A good and truncated, NAL unit types 0 and 31, audio, junk.
func decoderSeeds() [][]byte {
	idr := append([]byte{0x65, 0x88, 0x84}, bytes.Repeat([]byte{0xab}, 3000)...)
	fuStart := append([]byte{0x7c, 0x85}, idr[1:1001]...)
	fuMid := append([]byte{0x7c, 0x05}, idr[1001:2001]...)
	fuEnd := append([]byte{0x7c, 0x45}, idr[2001:]...)
	stap := []byte{0x78, 0, byte(len(testSPS))}
	stap = append(stap, testSPS...)
	stap = append(stap, 0, byte(len(testPPS)))
	stap = append(stap, testPPS...)
	return [][]byte{
		joinPackets(
			record{0, rtpBytes(96, 1, 0, false, testSPS)},
			record{0, rtpBytes(96, 2, 0, false, testPPS)},
			record{0, rtpBytes(96, 3, 0, true, idr[:200])},
			record{1, rtpBytes(0, 1, 0, true, bytes.Repeat([]byte{0xff}, 160))},
			record{0, rtpBytes(96, 4, 3600, true, []byte{0x41, 0x9a, 1, 2})},
		),
		joinPackets(
			record{0, rtpBytes(96, 1, 0, false, fuStart)},
			record{0, rtpBytes(96, 2, 0, false, fuMid)},
			record{0, rtpBytes(96, 3, 0, true, fuEnd)},
		),
		joinPackets(
			record{0, rtpBytes(96, 1, 0, false, fuMid)},
			record{0, rtpBytes(96, 2, 0, true, fuEnd)},
			record{0, rtpBytes(96, 3, 0, false, fuStart)},
			record{0, rtpBytes(96, 4, 0, false, fuStart)},
			record{0, rtpBytes(96, 5, 3600, true, fuEnd)},
		),
		joinPackets(
			record{0, rtpBytes(96, 1, 0, false, stap)},
			record{0, rtpBytes(96, 2, 0, true, idr[:50])},
			record{0, rtpBytes(96, 3, 3600, true, []byte{0x78, 0, 0xff, 0x65})},
			record{0, rtpBytes(96, 4, 7200, true, []byte{0x78})},
		),
		joinPackets(
			record{0, rtpBytes(96, 1, 0, true, []byte{0x00, 1, 2})},
			record{0, rtpBytes(96, 2, 3600, true, []byte{0x1f, 1, 2})},
			record{0, rtpBytes(96, 3, 7200, true, []byte{0x1e})},
			record{0, rtpBytes(96, 4, 7200, true, nil)},
			record{1, rtpBytes(0, 1, 0, true, nil)},
		),
		joinPackets(record{0, []byte{0x80}}, record{1, []byte("garbage that is not RTP")}),
		{},
	}
}

// FuzzDecoderPacket feeds arbitrary RTP packets, as pion/rtp reads them, to
// the decoder of an H.264 + G.711 publisher on a real hub. Nothing may
// panic; every unit that reaches a reader is owned by the publisher's session,
// has a payload, and stays byte-for-byte the same while the decoder goes on
// (invariant 6). After the camera publishes again, the old decoder's writes
// fail with ErrReplaced and none of its units reach the new session.
func FuzzDecoderPacket(f *testing.F) {
	for _, s := range decoderSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecoder(t, fuzzTracks, data) })
}

// FuzzDecoderPacketH265 is FuzzDecoderPacket for an H.265 and an AAC
// publisher: our own H.265 depacketizer (aggregation and fragmentation
// units, RFC 7798 §4.4) and gortsplib's AAC one (RFC 3640 AU headers).
func FuzzDecoderPacketH265(f *testing.F) {
	for _, s := range decoderSeeds265() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecoder(t, fuzzTracks265, data) })
}

// fuzzDecoder feeds data (see splitPackets) to the decoder of a publisher
// of tracks() and checks what reaches a reader (see FuzzDecoderPacket).
func fuzzDecoder(t *testing.T, newTracks func() []*media.Track, data []byte) {
	tracks := newTracks()
	h, pub, dec := publishDecoder(t, "cam-fuzz", tracks)
	g := issuer.Mint("admin", "cam-fuzz", access.AudienceRTSP, time.Hour)
	r, err := h.Read(g, access.StreamMain)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	owner := pub.Owner()

	type seen struct {
		u    *media.Unit
		copy [][]byte
	}
	var got []seen
	done, cancel := context.WithCancel(context.Background())
	cancel()
	drain := func(r *hub.Reader) []*media.Unit {
		var us []*media.Unit
		for {
			u, err := r.Next(done)
			if err != nil {
				return us
			}
			us = append(us, u)
		}
	}
	trs, raw := splitPackets(data)
	feed := func(want error) {
		for i, b := range raw {
			var pkt rtp.Packet
			if pkt.Unmarshal(b) != nil {
				continue
			}
			err := dec.Packet(tracks[trs[i]].Format, &pkt, int64(pkt.Timestamp))
			if err != nil && !errors.Is(err, want) {
				t.Fatalf("packet %d: %v", i, err)
			}
		}
	}
	for i, b := range raw {
		var pkt rtp.Packet
		if pkt.Unmarshal(b) != nil {
			continue
		}
		if err := dec.Packet(tracks[trs[i]].Format, &pkt, int64(pkt.Timestamp)); err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		for _, u := range drain(r) {
			if u.Owner() != owner {
				t.Fatalf("unit of %+v from the publisher of %+v", u.Owner(), owner)
			}
			if u.Track < 0 || u.Track >= len(tracks) || len(u.Payload) == 0 {
				t.Fatalf("unit track %d, %d NAL units", u.Track, len(u.Payload))
			}
			for _, n := range u.Payload {
				if tracks[u.Track].Kind == media.Video && len(n) == 0 {
					t.Fatal("empty NAL unit in a video unit")
				}
			}
			c := make([][]byte, len(u.Payload))
			for j, n := range u.Payload {
				c[j] = bytes.Clone(n)
			}
			got = append(got, seen{u, c})
		}
	}
	// Play everything again to let the decoder reuse its buffers.
	feed(nil)
	drain(r)
	for _, s := range got {
		for j, n := range s.u.Payload {
			if !bytes.Equal(n, s.copy[j]) {
				t.Fatalf("a published unit changed after later packets: %x became %x", s.copy[j], n)
			}
		}
	}

	// The camera publishes again: the old decoder must not reach the new session.
	pub2, err := h.Publish("cam-fuzz", access.StreamMain, newTracks())
	if err != nil {
		t.Fatal(err)
	}
	defer pub2.Close()
	r2, err := h.Read(g, access.StreamMain)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	feed(hub.ErrReplaced)
	if us := drain(r2); len(us) != 0 {
		t.Fatalf("the replaced decoder wrote %d units to the new session", len(us))
	}
}

// videoSeeds are NAL unit lists, each NAL unit prefixed by its length byte.
func videoSeeds() []struct {
	data           []byte
	h265, withSets bool
} {
	nal := func(ns ...[]byte) []byte {
		var out []byte
		for _, n := range ns {
			out = append(out, byte(len(n)))
			out = append(out, n...)
		}
		return out
	}
	vps265 := []byte{0x40, 0x01, 0x0c}
	sps265 := []byte{0x42, 0x01, 0x01}
	pps265 := []byte{0x44, 0x01, 0xc1}
	idr265 := []byte{0x26, 0x01, 0xaf}
	return []struct {
		data           []byte
		h265, withSets bool
	}{
		{nal([]byte{0x65, 0x88}), false, true},
		{nal([]byte{0x65, 0x88}), false, false},
		{nal(testSPS, testPPS, []byte{0x65, 0x88}), false, false},
		{nal(testSPS, []byte{0x65, 0x88}), false, false},
		{nal([]byte{0x41, 0x9a}), false, true},
		{nal([]byte{}, []byte{0x65}, []byte{}), false, true},
		{nal([]byte{0x00}, []byte{0x1f}, []byte{0x05}), false, true},
		{nal(vps265, sps265, pps265, idr265), true, false},
		{nal(idr265), true, true},
		{nal(idr265), true, false},
		{nal([]byte{0x7e}, []byte{0x40}), true, true},
		{nil, false, false},
	}
}

// splitNALUs reads length-prefixed NAL units (one length byte each).
func splitNALUs(data []byte) [][]byte {
	var out [][]byte
	for len(data) > 0 {
		n := min(int(data[0]), len(data)-1)
		out = append(out, data[1:1+n])
		data = data[1+n:]
	}
	return out
}

// FuzzVideoParams gives videoParams.unit arbitrary NAL unit lists, twice in a
// row (it keeps state). Nothing may panic; the output never holds an empty
// NAL unit and ends with the input's non-empty ones in order; a keyframe
// unit carries the parameter sets; and the kept sets never alias the
// caller's buffers, which a decoder may reuse.
func FuzzVideoParams(f *testing.F) {
	for _, s := range videoSeeds() {
		f.Add(s.data, s.h265, s.withSets)
	}
	f.Fuzz(func(t *testing.T, data []byte, isH265, withSets bool) {
		v := &videoParams{h265: isH265}
		if withSets {
			if isH265 {
				v.vps, v.sps, v.pps = []byte{0x40, 0x01, 0x0c}, []byte{0x42, 0x01, 0x01}, []byte{0x44, 0x01, 0xc1}
			} else {
				v.sps, v.pps = bytes.Clone(testSPS), bytes.Clone(testPPS)
			}
		}
		half := len(data) / 2
		for _, part := range [][]byte{data[:half], data[half:]} {
			buf := bytes.Clone(part)
			in := splitNALUs(buf)
			out, key := v.unit(in)
			var valid [][]byte
			for _, n := range in {
				if len(n) > 0 {
					valid = append(valid, bytes.Clone(n))
				}
			}
			if len(valid) == 0 {
				if out != nil || key {
					t.Fatalf("no NAL units in, %d out (key %v)", len(out), key)
				}
				continue
			}
			if len(out) < len(valid) {
				t.Fatalf("%d NAL units in, %d out", len(valid), len(out))
			}
			for i, n := range out {
				if len(n) == 0 {
					t.Fatalf("empty NAL unit %d out", i)
				}
			}
			tail := out[len(out)-len(valid):]
			for i := range valid {
				if !bytes.Equal(tail[i], valid[i]) {
					t.Fatalf("NAL unit %d: %x out, %x in", i, tail[i], valid[i])
				}
			}
			if key {
				checkSets(t, out, isH265)
			}
			vps, sps, pps := bytes.Clone(v.vps), bytes.Clone(v.sps), bytes.Clone(v.pps)
			for i := range buf {
				buf[i] ^= 0xff // the decoder reuses its buffer
			}
			if !bytes.Equal(vps, v.vps) || !bytes.Equal(sps, v.sps) || !bytes.Equal(pps, v.pps) {
				t.Fatal("kept parameter sets alias the caller's buffer")
			}
		}
	})
}

// checkSets fails unless a keyframe unit holds every parameter set its codec needs.
func checkSets(t *testing.T, out [][]byte, isH265 bool) {
	t.Helper()
	var vps, sps, pps bool
	for _, n := range out {
		if isH265 {
			switch h265.NALUType((n[0] >> 1) & 0x3f) {
			case h265.NALUType_VPS_NUT:
				vps = true
			case h265.NALUType_SPS_NUT:
				sps = true
			case h265.NALUType_PPS_NUT:
				pps = true
			}
			continue
		}
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeSPS:
			sps = true
		case h264.NALUTypePPS:
			pps = true
		}
	}
	if !sps || !pps || isH265 && !vps {
		t.Fatalf("keyframe unit without its parameter sets (vps %v sps %v pps %v)", vps, sps, pps)
	}
}
