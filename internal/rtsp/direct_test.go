package rtsp

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// deadlineConn is a countingConn that accepts deadlines and counts them.
type deadlineConn struct {
	countingConn
	deadlines int
}

func (c *deadlineConn) SetWriteDeadline(time.Time) error { c.deadlines++; return nil }

// TestWriteDeadlinePushedBackSparingly: a viewer's frames do not each set
// the write deadline (a timer update), only when it would move by a tenth
// of the timeout.
func TestWriteDeadlinePushedBackSparingly(t *testing.T) {
	c := &deadlineConn{}
	f := newFramedConn(c)
	for range 100 {
		if err := f.writeBuffers(&net.Buffers{[]byte("x")}, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if c.deadlines != 1 {
		t.Fatalf("%d deadlines set for 100 frames in well under a second, want 1", c.deadlines)
	}
	f.wdeadline = f.wdeadline.Add(-time.Second) // a second later
	f.writeBuffers(&net.Buffers{[]byte("x")}, 10*time.Second)
	if c.deadlines != 2 {
		t.Fatal("the deadline was not pushed back a second later")
	}
}

// frames splits interleaved data into (channel, payload) pairs.
func frames(t *testing.T, b []byte) (chans []int, payloads [][]byte) {
	t.Helper()
	for len(b) > 0 {
		if len(b) < 4 || b[0] != '$' {
			t.Fatalf("not an interleaved frame: % x", b[:min(8, len(b))])
		}
		n := int(binary.BigEndian.Uint16(b[2:]))
		chans, payloads = append(chans, int(b[1])), append(payloads, b[4:4+n])
		b = b[4+n:]
	}
	return chans, payloads
}

func TestDirectWriterFraming(t *testing.T) {
	c := &deadlineConn{}
	w := &directWriter{conn: newFramedConn(c), timeout: time.Second,
		tracks: []directTrack{{channel: 2, ssrc: 0xabcdef01, seq: 65535}, {channel: -1}}}
	shared := []packet{
		{pt: 96, body: []byte{1, 2, 3}},
		{pt: 96, marker: true, prefix: [3]byte{0x7c, 0x45}, np: 2, body: []byte{4, 5}},
	}
	wall := time.Unix(1700000000, 0)
	if err := w.write(0, shared, 90000, wall); err != nil {
		t.Fatal(err)
	}
	if err := w.write(1, shared, 90000, wall); err != nil { // not set up: nothing written
		t.Fatal(err)
	}
	var all []byte
	for _, b := range c.writes {
		all = append(all, b...)
	}
	chans, payloads := frames(t, all)
	if len(chans) != 3 || chans[0] != 3 || chans[1] != 2 || chans[2] != 2 {
		t.Fatalf("channels %v, want a sender report on 3 then two RTP packets on 2", chans)
	}
	pkts, err := rtcp.Unmarshal(payloads[0])
	if err != nil {
		t.Fatal(err)
	}
	if sr, ok := pkts[0].(*rtcp.SenderReport); !ok || sr.SSRC != 0xabcdef01 || sr.RTPTime != 90000 {
		t.Fatalf("first frame is not the expected sender report: %+v", pkts[0])
	}
	for i, want := range shared {
		var got rtp.Packet
		if err := got.Unmarshal(payloads[i+1]); err != nil {
			t.Fatal(err)
		}
		seq := uint16(65535 + i) // wraps
		payload := append(want.prefix[:want.np:want.np], want.body...)
		if got.SSRC != 0xabcdef01 || got.SequenceNumber != seq || got.Timestamp != 90000 ||
			got.Marker != want.marker || got.PayloadType != 96 || !bytes.Equal(got.Payload, payload) {
			t.Fatalf("packet %d: %+v % x", i, got.Header, got.Payload)
		}
	}
	// The shared packets are untouched: other viewers reuse them.
	if !bytes.Equal(shared[0].body, []byte{1, 2, 3}) || !bytes.Equal(shared[1].body, []byte{4, 5}) {
		t.Fatal("the writer modified a shared packet")
	}
}

// TestTryWriteLeavesTheRestInOrder: a unit the socket takes only part of
// at once is finished by flush, and the bytes that arrive are the frames
// in order, the unit's headers intact, though the next unit was framed
// (on another writer's turn) only after the flush.
func TestTryWriteLeavesTheRestInOrder(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	server.(*net.TCPConn).SetWriteBuffer(16 << 10)
	fc := admit(server, false, nil, 0, nil)
	defer fc.Close()
	w := &directWriter{conn: fc, timeout: 5 * time.Second, tracks: []directTrack{{channel: 0, ssrc: 7}}}
	body := bytes.Repeat([]byte{0xab}, 1200)
	var pkts []packet
	for range 400 { // 480 kB: more than the socket takes at once
		pkts = append(pkts, packet{pt: 96, body: body})
	}
	wall := time.Unix(1700000000, 0)
	ok, done := w.tryWrite(0, pkts, 1000, wall)
	if !ok || done {
		t.Fatalf("tryWrite of 480 kB to a reader that reads nothing: ok %v done %v, want the rest left", ok, done)
	}
	got := make(chan []byte)
	go func() {
		var all []byte
		buf := make([]byte, 64<<10)
		for {
			n, err := client.Read(buf)
			all = append(all, buf[:n]...)
			if err != nil {
				got <- all
				return
			}
		}
	}()
	if err := w.flush(); err != nil {
		t.Fatal(err)
	}
	if err := w.write(0, pkts[:1], 2000, wall); err != nil {
		t.Fatal(err)
	}
	fc.Close()
	chans, payloads := frames(t, <-got)
	if len(chans) != 1+400+1 {
		t.Fatalf("%d frames, want a sender report and 401 packets", len(chans))
	}
	for i, b := range payloads[1:] {
		var p rtp.Packet
		if err := p.Unmarshal(b); err != nil {
			t.Fatal(err)
		}
		want := uint32(1000)
		if i == 400 {
			want = 2000
		}
		if p.SequenceNumber != uint16(i) || p.Timestamp != want || p.SSRC != 7 || !bytes.Equal(p.Payload, body) {
			t.Fatalf("packet %d: seq %d ts %d ssrc %d, %d bytes", i, p.SequenceNumber, p.Timestamp, p.SSRC, len(p.Payload))
		}
	}
}
