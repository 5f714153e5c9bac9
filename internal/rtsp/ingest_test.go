package rtsp

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"vigil/internal/access"
	"vigil/internal/ingest"
	"vigil/internal/media"
)

// rawCamera is a hand-written camera recording one H.264 track over
// interleaved TCP (channels 0 and 1), so the test controls how its bytes
// are cut into writes.
type rawCamera struct {
	*rawConn
	url     string
	session string
	seq     uint16
	ts      uint32
}

// announceAndSetup authenticates an ANNOUNCE and sets the track up; RECORD
// is the caller's, so it can send it with other bytes.
func announceAndSetup(t *testing.T, addr string, d access.DeviceID) *rawCamera {
	t.Helper()
	c := &rawCamera{rawConn: dialRaw(t, addr), url: "rtsp://" + addr + "/" + string(d)}
	ch := c.challenge(c.url)
	res := c.expect(base.StatusOK, "ANNOUNCE", c.url, digestAuth("ANNOUNCE", c.url, string(d), "pw-"+string(d), ch.Nonce))
	res = c.expect(base.StatusOK, "SETUP", c.url+"/trackID=0", "Transport: RTP/AVP/TCP;unicast;interleaved=0-1;mode=record")
	if len(res.Header["Session"]) == 0 {
		t.Fatalf("SETUP without a session: %v", res.Header)
	}
	c.session, _, _ = strings.Cut(res.Header["Session"][0], ";")
	return c
}

// recordRequest is the RECORD request's bytes.
func (c *rawCamera) recordRequest() []byte {
	c.cseq++
	return fmt.Appendf(nil, "RECORD %s RTSP/1.0\r\nCSeq: %d\r\nSession: %s\r\n\r\n", c.url, c.cseq, c.session)
}

// rtpFrame is the interleaved frame of the track's next packet.
func (c *rawCamera) rtpFrame(payload []byte, marker bool) []byte {
	c.seq++
	b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: c.seq,
		Timestamp: c.ts, SSRC: 0x4321, Marker: marker}, Payload: payload}).Marshal()
	if err != nil {
		panic(err)
	}
	f, _ := (&base.InterleavedFrame{Channel: 0, Payload: b}).Marshal()
	return f
}

// keyframe is SPS, PPS and an IDR slice carrying tag, as three frames.
func (c *rawCamera) keyframe(tag string) []byte {
	b := c.rtpFrame(testSPS, false)
	b = append(b, c.rtpFrame(testPPS, false)...)
	b = append(b, c.rtpFrame(append([]byte{0x65, 0x88, 0x84}, tag...), true)...)
	c.ts += 3600
	return b
}

// fragmented is a P slice carrying tag and filler, in two FU-A fragments:
// the frames of both, and where the second starts.
func (c *rawCamera) fragmented(tag string, filler int) ([]byte, int) {
	// A non-IDR slice's NAL unit header (0x41) is rebuilt from the FU
	// indicator (NRI 2, type 28) and the FU header (type 1).
	body := append([]byte(tag), bytes.Repeat([]byte{0x5a}, filler)...)
	half := len(body) / 2
	b := c.rtpFrame(append([]byte{0x5c, 0x81}, body[:half]...), false)
	second := len(b)
	b = append(b, c.rtpFrame(append([]byte{0x5c, 0x41}, body[half:]...), true)...)
	c.ts += 3600
	return b, second
}

// hasNAL reports whether u holds nal whole.
func hasNAL(u *media.Unit, nal []byte) bool {
	for _, n := range u.Payload {
		if bytes.Equal(n, nal) {
			return true
		}
	}
	return false
}

// TestDirectIngest: a TCP camera's RTP is read under gortsplib (see
// directIngest) and arrives byte for byte, its fragments reassembled, with
// frames cut anywhere by the camera's writes; the requests and RTCP it
// sends between frames still reach gortsplib, which answers them; its
// lost packets are counted. A camera that sends RTP in the same write as
// its RECORD stays on gortsplib's path, and its units arrive too.
func TestDirectIngest(t *testing.T) {
	for _, tc := range []struct {
		name      string
		pipelined bool
	}{{"direct", false}, {"pipelined", true}} {
		t.Run(tc.name, func(t *testing.T) {
			e, lc := startLogged(t, "cam-aaa")
			c := announceAndSetup(t, e.addr, "cam-aaa")
			first := c.keyframe("k1")
			if tc.pipelined {
				if err := c.write(append(c.recordRequest(), first...)); err != nil {
					t.Fatal(err)
				}
				c.expectRead(base.StatusOK)
			} else {
				if err := c.write(c.recordRequest()); err != nil {
					t.Fatal(err)
				}
				c.expectRead(base.StatusOK)
			}
			waitOnline(t, e.hub, "cam-aaa", &syncBuffer{})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			units := collect(ctx, hubReader(t, e.hub, "cam-aaa"))
			if !tc.pipelined {
				if err := c.write(first); err != nil {
					t.Fatal(err)
				}
			}
			units.waitFor(t, func(u *media.Unit) bool { return containsTag(u, "k1") })

			// A P-frame cut inside an interleaved header and inside a
			// payload, its first fragment read before the second is sent;
			// then RTCP and a keep-alive between frames.
			p1, second := c.fragmented("p1", 3000)
			for _, cut := range [][]byte{p1[:2], p1[2:1000], p1[1000:second], p1[second : second+1000], p1[second+1000:]} {
				if err := c.write(cut); err != nil {
					t.Fatal(err)
				}
				time.Sleep(10 * time.Millisecond)
			}
			sr, _ := (&rtcp.SenderReport{SSRC: 0x4321, RTPTime: c.ts}).Marshal()
			srFrame, _ := (&base.InterleavedFrame{Channel: 1, Payload: sr}).Marshal()
			c.cseq++
			keepalive := fmt.Appendf(nil, "GET_PARAMETER %s RTSP/1.0\r\nCSeq: %d\r\nSession: %s\r\n\r\n", c.url, c.cseq, c.session)
			if err := c.write(append(srFrame, keepalive...)); err != nil {
				t.Fatal(err)
			}
			c.expectRead(base.StatusOK)
			c.seq += 2 // two packets lost
			p2, _ := c.fragmented("p2", 100)
			if err := c.write(append(p2, c.keyframe("k2")...)); err != nil {
				t.Fatal(err)
			}
			us := units.waitFor(t, func(u *media.Unit) bool { return containsTag(u, "k2") })
			want := append([]byte("\x41p1"), bytes.Repeat([]byte{0x5a}, 3000)...)
			found := false
			for _, u := range us {
				found = found || hasNAL(u, want)
				if u.Owner().Device != "cam-aaa" {
					t.Fatalf("unit of %s", u.Owner().Device)
				}
			}
			if !found {
				t.Fatal("the fragmented P-frame did not arrive whole")
			}
			units.waitFor(t, func(u *media.Unit) bool { return containsTag(u, "p2") })

			c.c.Close()
			rec, ok := lc.wait("camera disconnected", "cam-aaa", 5*time.Second)
			if !ok {
				t.Fatal("no disconnection logged")
			}
			if want := fmt.Sprint(!tc.pipelined); rec.attrs["direct"] != want {
				t.Fatalf("direct ingest %s, want %s", rec.attrs["direct"], want)
			}
			if rec.attrs["packets_lost"] != "2" || rec.attrs["decode_errors"] != "0" {
				t.Fatalf("packets lost %s, decode errors %s; want 2 and 0", rec.attrs["packets_lost"], rec.attrs["decode_errors"])
			}
		})
	}
}

// TestMessageLen frames what a camera may send between RTP frames.
func TestMessageLen(t *testing.T) {
	for _, tc := range []struct {
		in    string
		n     int
		whole bool
	}{
		{"$\x00\x00\x02ab", 6, true},
		{"$\x00\x00\x02a", 6, false},
		{"$\x00", 4, false},
		{"OPTIONS * RTSP/1.0\r\nCSeq: 2\r\n\r\n$", 31, true},
		{"OPTIONS * RTSP/1.0\r\nCSeq: 2\r\n", 30, false},
		{"SET_PARAMETER x RTSP/1.0\r\ncontent-length: 3\r\n\r\nab", 50, false},
		{"SET_PARAMETER x RTSP/1.0\r\nContent-Length:3\r\n\r\nabc", 49, true},
		{"SET_PARAMETER x RTSP/1.0\r\nContent-Length: x\r\n\r\nabc", -1, false},
		{"\x00\x01garbage", -1, false},
	} {
		n, whole := messageLen([]byte(tc.in))
		if n != tc.n || whole != tc.whole {
			t.Errorf("%q: %d %v, want %d %v", tc.in, n, whole, tc.n, tc.whole)
		}
	}
}

// chunkedConn is a connection whose reads return the given pieces, then EOF.
type chunkedConn struct {
	net.Conn
	pieces [][]byte
}

func (c *chunkedConn) Read(p []byte) (int, error) {
	for len(c.pieces) > 0 && len(c.pieces[0]) == 0 {
		c.pieces = c.pieces[1:]
	}
	if len(c.pieces) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.pieces[0])
	c.pieces[0] = c.pieces[0][n:]
	return n, nil
}

func (c *chunkedConn) SetReadDeadline(time.Time) error { return nil }

// FuzzDirectIngest feeds a camera's byte stream, cut into reads at random,
// through the direct ingest: it never panics or loops, every byte is
// either handed up to gortsplib in order or taken as a frame of the RTP
// channel (0), and a stream without such frames is handed up unchanged.
func FuzzDirectIngest(f *testing.F) {
	cam := &rawCamera{}
	f.Add(append(cam.keyframe("k"), "OPTIONS * RTSP/1.0\r\nCSeq: 3\r\n\r\n$\x01\x00\x01x"...), uint64(7))
	f.Add([]byte("GET_PARAMETER x RTSP/1.0\r\nContent-Length: 2\r\n\r\nab$\x00\x00\x00"), uint64(1))
	f.Add([]byte("\x00garbage$\x00\x00\x01z"), uint64(3))
	f.Fuzz(func(t *testing.T, in []byte, seed uint64) {
		rng := mrand.New(mrand.NewPCG(seed, 1))
		var pieces [][]byte
		for rest := in; len(rest) > 0; {
			n := min(len(rest), 1+rng.IntN(3000))
			pieces = append(pieces, bytes.Clone(rest[:n]))
			rest = rest[n:]
		}
		p := &push{log: slog.New(slog.DiscardHandler), dec: &ingest.Decoder{}}
		fc := newFramedConn(&chunkedConn{pieces: pieces})
		di := &directIngest{conn: fc, push: p, timeout: time.Second,
			tracks: []ingestTrack{{}}} // no format: every RTP packet is a decode error
		di.byChan[0] = 1
		var out []byte
		buf := make([]byte, gortsplibReadBuffer)
		for reads := 0; ; reads++ {
			if reads > 2*len(in)+10 {
				t.Fatal("reads without end")
			}
			n, err := di.read(buf[:cap(buf)-rng.IntN(2)*rng.IntN(cap(buf))])
			out = append(out, buf[:n]...)
			if err != nil {
				break
			}
		}
		taken := int(p.dec.Errors) // RTP frames taken, each a decode error here
		if !bytes.Contains(in, []byte("$\x00")) && !bytes.HasPrefix(in, out) {
			t.Fatalf("handed up %q of %q", out, in)
		}
		if len(out) > len(in) || taken > 0 && len(out) == len(in) {
			t.Fatalf("handed up %d bytes and took %d frames of %d", len(out), taken, len(in))
		}
	})
}

// BenchmarkIngest is what a camera's access unit costs the server from the
// socket to the hub: a 25-unit GOP of the bench's small camera (a 20 KB
// keyframe in 15 packets, P-frames of 2.5 KB in two), one write per unit,
// through the direct ingest and, for comparison, through gortsplib's record
// path (the camera's first frames pipelined with its RECORD keep the
// session there). ns/op and allocs/op are per unit, the camera's writes
// included (they allocate nothing).
func BenchmarkIngest(b *testing.B) {
	for _, path := range []string{"direct", "gortsplib"} {
		b.Run(path, func(b *testing.B) {
			t := &testing.T{}
			e, _ := startLogged(t, "cam-aaa")
			defer e.srv.Close()
			c := announceAndSetup(t, e.addr, "cam-aaa")
			defer c.c.Close()
			if path == "gortsplib" {
				c.write(append(c.recordRequest(), c.keyframe("k0")...))
			} else {
				c.write(c.recordRequest())
			}
			c.expectRead(base.StatusOK)
			gop := benchGOP(c)
			r, err := e.hub.Read(issuer.Mint("admin", "cam-aaa", access.AudienceRTSP, time.Hour), access.StreamMain)
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			seen := make(chan struct{}, 1)
			go func() {
				for {
					u, err := r.Next(context.Background())
					if err != nil {
						return
					}
					if u.Key && containsTag(u, "end") {
						seen <- struct{}{}
					}
				}
			}()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := c.write(gop.next()); err != nil {
					b.Fatal(err)
				}
			}
			c.write(c.keyframe("end"))
			select {
			case <-seen:
			case <-time.After(10 * time.Second):
				b.Fatal("the last unit never arrived")
			}
		})
	}
}

// benchUnits is a camera's GOP as interleaved frames, written unit by
// unit with sequence numbers and timestamps patched in place.
type benchUnits struct {
	c     *rawCamera
	units [][]byte
	at    int
}

func benchGOP(c *rawCamera) *benchUnits {
	g := &benchUnits{c: c}
	key := c.rtpFrame(testSPS, false)
	key = append(key, c.rtpFrame(testPPS, false)...)
	idr := append([]byte{0x65}, bytes.Repeat([]byte{0x5a}, 20000)...)
	for i := 1; i < len(idr); i += 1400 {
		fu := []byte{0x7c, 0x05}
		if i == 1 {
			fu[1] |= 0x80
		}
		end := min(i+1400, len(idr))
		if end == len(idr) {
			fu[1] |= 0x40
		}
		key = append(key, c.rtpFrame(append(fu, idr[i:end]...), end == len(idr))...)
	}
	g.units = append(g.units, key)
	for range 24 {
		p, _ := c.fragmented("p", 2500)
		g.units = append(g.units, p)
	}
	return g
}

// next is the next unit's frames, patched to follow the last one.
func (g *benchUnits) next() []byte {
	u := g.units[g.at]
	g.at = (g.at + 1) % len(g.units)
	g.c.ts += 3600
	for b := u; len(b) > 0; {
		n := 4 + (int(b[2])<<8 | int(b[3]))
		g.c.seq++
		binary.BigEndian.PutUint16(b[6:], g.c.seq)
		binary.BigEndian.PutUint32(b[8:], g.c.ts)
		b = b[n:]
	}
	return u
}

// TestDirectIngestTimeout: a camera read directly is kept while it sends,
// past the read timeout (5 s here), and dropped within it once it falls
// silent, as gortsplib's own reads do.
func TestDirectIngestTimeout(t *testing.T) {
	e, lc := startLogged(t, "cam-aaa")
	c := announceAndSetup(t, e.addr, "cam-aaa")
	if err := c.write(c.recordRequest()); err != nil {
		t.Fatal(err)
	}
	c.expectRead(base.StatusOK)
	if err := c.write(c.keyframe("k1")); err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(7 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		p, _ := c.fragmented("p", 500)
		if err := c.write(p); err != nil {
			t.Fatalf("camera dropped while sending: %v", err)
		}
	}
	c.cseq++
	if err := c.write(fmt.Appendf(nil, "GET_PARAMETER %s RTSP/1.0\r\nCSeq: %d\r\nSession: %s\r\n\r\n", c.url, c.cseq, c.session)); err != nil {
		t.Fatal(err)
	}
	c.expectRead(base.StatusOK)
	silent := time.Now()
	if !c.closedWithin(8 * time.Second) {
		t.Fatal("a silent camera was kept past the read timeout")
	}
	if d := time.Since(silent); d < 3*time.Second {
		t.Fatalf("a silent camera was dropped after %v, before the read timeout", d)
	}
	rec, ok := lc.wait("camera disconnected", "cam-aaa", 5*time.Second)
	if !ok || rec.attrs["direct"] != "true" {
		t.Fatalf("disconnection not logged, or not read directly: %v", rec.attrs)
	}
}

// TestDirectIngestSecondSession: a camera that tears its directly read
// session down and records another camera's on the same connection gets
// the second through gortsplib: both cameras' units arrive, each its own.
func TestDirectIngestSecondSession(t *testing.T) {
	e, lc := startLogged(t, "cam-aaa", "cam-bbb")
	c := announceAndSetup(t, e.addr, "cam-aaa")
	if err := c.write(c.recordRequest()); err != nil {
		t.Fatal(err)
	}
	c.expectRead(base.StatusOK)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	waitOnline(t, e.hub, "cam-aaa", &syncBuffer{})
	a := collect(ctx, hubReader(t, e.hub, "cam-aaa"))
	if err := c.write(c.keyframe("a1")); err != nil {
		t.Fatal(err)
	}
	a.waitFor(t, func(u *media.Unit) bool { return containsTag(u, "a1") })
	c.expect(base.StatusOK, "TEARDOWN", c.url, "Session: "+c.session)
	if rec, ok := lc.wait("camera disconnected", "cam-aaa", 5*time.Second); !ok || rec.attrs["direct"] != "true" {
		t.Fatalf("first session: %v", rec.attrs)
	}

	url := "rtsp://" + e.addr + "/cam-bbb"
	ch := c.challenge(url)
	c.expect(base.StatusOK, "ANNOUNCE", url, digestAuth("ANNOUNCE", url, "cam-bbb", "pw-cam-bbb", ch.Nonce))
	res := c.expect(base.StatusOK, "SETUP", url+"/trackID=0", "Transport: RTP/AVP/TCP;unicast;interleaved=0-1;mode=record")
	c.session, _, _ = strings.Cut(res.Header["Session"][0], ";")
	c.url = url
	if err := c.write(c.recordRequest()); err != nil {
		t.Fatal(err)
	}
	c.expectRead(base.StatusOK)
	waitOnline(t, e.hub, "cam-bbb", &syncBuffer{})
	b := collect(ctx, hubReader(t, e.hub, "cam-bbb"))
	if err := c.write(c.keyframe("b1")); err != nil {
		t.Fatal(err)
	}
	for _, u := range b.waitFor(t, func(u *media.Unit) bool { return containsTag(u, "b1") }) {
		if u.Owner().Device != "cam-bbb" || containsTag(u, "a1") {
			t.Fatalf("cam-bbb's reader got a unit of %s", u.Owner().Device)
		}
	}
	c.c.Close()
	if rec, ok := lc.wait("camera disconnected", "cam-bbb", 5*time.Second); !ok || rec.attrs["direct"] != "false" {
		t.Fatalf("second session: %v", rec.attrs)
	}
}
