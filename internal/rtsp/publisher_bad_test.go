package rtsp

import (
	"bytes"
	"context"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/pion/rtp"

	"vigil/internal/access"
	"vigil/internal/hub"
	"vigil/internal/media"
	"vigil/internal/testkit"
)

// A valid H.264 SPS and PPS (baseline, 1920x1080) for the synthetic publisher.
var (
	testSPS = []byte{
		0x67, 0x42, 0xc0, 0x28, 0xd9, 0x00, 0x78, 0x02, 0x27, 0xe5, 0x84, 0x00, 0x00, 0x03, 0x00, 0x04,
		0x00, 0x00, 0x03, 0x00, 0xf0, 0x3c, 0x60, 0xc9, 0x20,
	}
	testPPS = []byte{0x68, 0xce, 0x3c, 0x80}
)

// rawPublisher is a gortsplib client recording to Vigil over TCP, with its
// TCP connection at hand for frames the client would refuse to send.
type rawPublisher struct {
	c      *gortsplib.Client
	desc   *description.Session
	mu     sync.Mutex
	conn   net.Conn
	seq    map[*description.Media]uint16
	tcp    bool
	ts     uint32
	waitCh chan error
}

func startPublisher(t *testing.T, addr string, d access.DeviceID, password string) *rawPublisher {
	t.Helper()
	return startPublisherOver(t, gortsplib.ProtocolTCP, addr, d, password)
}

func startPublisherOver(t *testing.T, proto gortsplib.Protocol, addr string, d access.DeviceID, password string) *rawPublisher {
	t.Helper()
	return startPublisherFrom(t, proto, nil, addr, d, password)
}

// startPublisherFrom publishes from the local address local (nil: any).
func startPublisherFrom(t *testing.T, proto gortsplib.Protocol, local net.Addr, addr string, d access.DeviceID, password string) *rawPublisher {
	t.Helper()
	p := &rawPublisher{
		desc: &description.Session{Medias: []*description.Media{
			{Type: description.MediaTypeVideo, Formats: []format.Format{&format.H264{
				PayloadTyp: 96, PacketizationMode: 1, SPS: testSPS, PPS: testPPS,
			}}},
			{Type: description.MediaTypeAudio, Formats: []format.Format{&format.G711{
				PayloadTyp: 0, MULaw: true, SampleRate: 8000, ChannelCount: 1,
			}}},
		}},
		seq:    map[*description.Media]uint16{},
		tcp:    proto == gortsplib.ProtocolTCP,
		waitCh: make(chan error, 1),
	}
	p.c = &gortsplib.Client{
		Scheme: "rtsp", Host: addr, Protocol: &proto,
		DialContext: func(ctx context.Context, network, address string) (net.Conn, error) {
			c, err := (&net.Dialer{LocalAddr: local}).DialContext(ctx, network, address)
			p.mu.Lock()
			p.conn = c
			p.mu.Unlock()
			return c, err
		},
	}
	if err := p.c.StartRecording("rtsp://"+string(d)+":"+password+"@"+addr+"/"+string(d), p.desc); err != nil {
		t.Fatalf("publish %s: %v", d, err)
	}
	go func() { p.waitCh <- p.c.Wait() }()
	t.Cleanup(p.c.Close)
	return p
}

func (p *rawPublisher) video() *description.Media { return p.desc.Medias[0] }
func (p *rawPublisher) audio() *description.Media { return p.desc.Medias[1] }

// packet is the next RTP packet of m, with the publisher's current timestamp.
func (p *rawPublisher) packet(m *description.Media, payload []byte, marker bool) *rtp.Packet {
	p.seq[m]++
	return &rtp.Packet{Header: rtp.Header{
		Version: 2, PayloadType: m.Formats[0].PayloadType(), SequenceNumber: p.seq[m],
		Timestamp: p.ts, SSRC: 0x1234, Marker: marker,
	}, Payload: payload}
}

func (p *rawPublisher) write(t *testing.T, m *description.Media, payload []byte, marker bool) {
	t.Helper()
	if err := p.c.WritePacketRTP(m, p.packet(m, payload, marker)); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// frame writes an interleaved frame on the raw connection, bypassing the
// client: one Write call, so it never splits a frame of the client's.
func (p *rawPublisher) frame(t *testing.T, channel byte, payload []byte) {
	t.Helper()
	f := base.InterleavedFrame{Channel: int(channel), Payload: payload}
	b, _ := f.Marshal()
	p.mu.Lock()
	c := p.conn
	p.mu.Unlock()
	if _, err := c.Write(b); err != nil {
		t.Fatalf("raw write: %v", err)
	}
}

// keyframe sends SPS, PPS and an IDR slice carrying tag, then advances time.
func (p *rawPublisher) keyframe(t *testing.T, tag string) {
	t.Helper()
	p.write(t, p.video(), testSPS, false)
	p.write(t, p.video(), testPPS, false)
	p.write(t, p.video(), append([]byte{0x65, 0x88, 0x84}, tag...), true)
	p.ts += 3600
}

// TestBadPublisherData has an authenticated camera send every kind of bad
// RTP: a payload type it never announced, truncated RTP headers, random
// payloads, corrupt H.264 (FU-A without a start, NAL unit types 0 and 31,
// truncated STAP-A), garbage RTCP and frames on channels it never set up.
// The server must count and log the errors with the camera's name, keep the
// session (a good keyframe afterwards still arrives), write only units owned
// by that session, and never disturb another camera's reader.
func TestBadPublisherData(t *testing.T) {
	t.Parallel()
	for _, proto := range []gortsplib.Protocol{gortsplib.ProtocolTCP, gortsplib.ProtocolUDP} {
		t.Run(proto.String(), func(t *testing.T) {
			t.Parallel()
			testBadPublisherData(t, proto)
		})
	}
}

func testBadPublisherData(t *testing.T, proto gortsplib.Protocol) {
	e, lc := startLogged(t, goodCam, badCam)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stderr := publishFFmpeg(ctx, t, "rtsp://cam-good:pw-cam-good@"+e.addr+"/cam-good", "tcp")
	waitOnline(t, e.hub, goodCam, stderr)
	goodSession := hubReader(t, e.hub, goodCam).Owner().Session
	read := startRead(ctx, t, "rtsp://admin:secret@"+e.addr+"/cam-good", 75)

	p := startPublisherOver(t, proto, e.addr, badCam, "pw-cam-bad")
	hr := hubReader(t, e.hub, badCam)
	owner := hr.Owner()
	if owner.Device != badCam || owner.Session == goodSession {
		t.Fatalf("bad camera's owner %+v", owner)
	}
	units := collect(ctx, hr)

	p.keyframe(t, "VIGIL-START")
	rng := mrand.New(mrand.NewPCG(3, 4))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		return b
	}
	deadline := time.Now().Add(3 * time.Second) // the good reader keeps reading meanwhile
	for round := 0; round < 2 || time.Now().Before(deadline); round++ {
		// Corrupt H.264 through the client.
		for _, pl := range [][]byte{
			{0x7c, 0x05, 1, 2, 3},            // FU-A, no start bit, nothing before it
			{0x7c, 0x45, 1, 2, 3},            // FU-A end without a start
			{0x7c, 0x85},                     // FU-A start, no data
			{0x7c, 0x85, 1}, {0x7c, 0x85, 2}, // FU-A start twice
			{0x7c, 0x05, 3},         // continuation after a restart
			{0x7c},                  // FU-A indicator only
			{0x00, 1, 2, 3},         // NAL unit type 0
			{0x1f, 1, 2, 3},         // NAL unit type 31
			{0x1e}, {0x1d, 0x85, 1}, // reserved type 30, FU-B
			{0x78, 0x00, 0xff, 0x65},       // STAP-A: 255-byte NALU announced, 1 byte present
			{0x78, 0x00, 0x00, 0x00, 0x00}, // STAP-A of empty NALUs
			{0x78},                         // STAP-A header only
			{0x65},                         // IDR of one byte
		} {
			p.write(t, p.video(), pl, rng.UintN(2) == 0)
			p.ts += 3600
		}
		for range 50 {
			p.write(t, p.video(), random(1+int(rng.UintN(1400))), rng.UintN(2) == 0)
			p.write(t, p.audio(), random(int(rng.UintN(400))), true)
			p.ts += 3600
		}
		// Bad RTP beside the client: unknown payload type, short header, bad
		// version, garbage RTCP, channels never set up, an empty frame.
		if proto == gortsplib.ProtocolTCP {
			p.rawGarbage(t, random)
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.keyframe(t, "VIGIL-END")
	checkBadPublisher(t, e, lc, p, units, owner, goodSession, read)
}

// rawGarbage sends, on the publisher's TCP connection, RTP the client would
// refuse to: payload types never announced, short and bad-version headers,
// empty frames, garbage RTCP and frames on channels never set up.
func (p *rawPublisher) rawGarbage(t *testing.T, random func(int) []byte) {
	t.Helper()
	{
		for _, pt := range []uint8{8, 97, 111, 127} {
			pkt := p.packet(p.video(), random(100), true)
			p.seq[p.video()]-- // the server drops it before counting sequence numbers
			pkt.PayloadType = pt
			b, _ := pkt.Marshal()
			p.frame(t, 0, b)
		}
		p.frame(t, 0, []byte{0x80, 0x60, 0x00})
		p.frame(t, 0, append([]byte{0x40}, random(20)...))
		p.frame(t, 0, nil)
		p.frame(t, 1, random(64))
		p.frame(t, 2, random(10))
		p.frame(t, 3, random(300))
		p.frame(t, 9, random(100))
		p.frame(t, 255, random(100))
	}
}

func checkBadPublisher(t *testing.T, e *env, lc *logCapture, p *rawPublisher, units *unitLog, owner media.Owner, goodSession uint64, read *bgRead) {
	t.Helper()

	// The session survived and still decodes.
	got := units.waitFor(t, func(u *media.Unit) bool { return u.Key && containsTag(u, "VIGIL-END") })
	select {
	case err := <-p.waitCh:
		t.Fatalf("the server closed the bad publisher: %v", err)
	default:
	}
	for _, u := range got {
		if u.Owner() != owner {
			t.Fatalf("unit of %+v on the stream of %+v", u.Owner(), owner)
		}
	}
	// RTP that gortsplib itself rejects (only the TCP run sends it) is logged
	// at once; codec errors are counted and reported at disconnection.
	if _, ok := lc.wait("camera sent undecodable data", badCam, 2*time.Second); !ok && p.tcp {
		t.Error("decode errors were not logged with the camera's name")
	}
	p.c.Close()
	rec, ok := lc.wait("camera disconnected", badCam, 5*time.Second)
	if !ok {
		t.Fatal("no log line for the bad camera's disconnection")
	}
	if n, _ := strconv.Atoi(rec.attrs["decode_errors"]); n < 10 {
		t.Errorf("decode_errors = %q; want the bad packets counted", rec.attrs["decode_errors"])
	}
	read.check(t, "cam-good")
	if hubReader(t, e.hub, goodCam).Owner().Session != goodSession {
		t.Fatal("cam-good's publisher session changed")
	}
	if n := lc.count("isolation violation"); n != 0 {
		t.Fatalf("%d isolation violations", n)
	}
}

func containsTag(u *media.Unit, tag string) bool {
	for _, n := range u.Payload {
		if bytes.Contains(n, []byte(tag)) {
			return true
		}
	}
	return false
}

// unitLog collects what a hub reader receives.
type unitLog struct {
	mu    sync.Mutex
	units []*media.Unit
	err   error
}

func collect(ctx context.Context, r *hub.Reader) *unitLog {
	l := &unitLog{}
	go func() {
		for {
			u, err := r.Next(ctx)
			l.mu.Lock()
			if err != nil {
				l.err = err
				l.mu.Unlock()
				return
			}
			l.units = append(l.units, u)
			l.mu.Unlock()
		}
	}()
	return l
}

// waitFor waits up to 10 s for a unit matching ok and returns all units so far.
func (l *unitLog) waitFor(t *testing.T, ok func(*media.Unit) bool) []*media.Unit {
	t.Helper()
	var us []*media.Unit
	testkit.WaitFor(t, 10*time.Second, "unit of the kind wanted", func() error {
		l.mu.Lock()
		var err error
		us, err = append([]*media.Unit(nil), l.units...), l.err
		l.mu.Unlock()
		if slices.ContainsFunc(us, ok) {
			return nil
		}
		if err != nil {
			t.Fatalf("hub reader ended after %d units: %v", len(us), err)
		}
		return fmt.Errorf("none among %d", len(us))
	})
	return us
}

// ended reports the reader's end, waiting up to d.
func (l *unitLog) ended(d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		l.mu.Lock()
		err := l.err
		l.mu.Unlock()
		if err != nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}
