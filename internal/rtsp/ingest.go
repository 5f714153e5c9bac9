package rtsp

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/headers"
	"github.com/pion/rtp"
)

// directIngest reads a TCP camera's interleaved RTP itself (RFC 2326
// §10.12), under gortsplib, the way directWriter writes a viewer's. Once a
// camera records, gortsplib reads every packet into a fresh buffer, then
// unmarshals it into a fresh rtp.Packet, runs it through a receiver that
// returns it in a fresh slice and calls back through two closures, three
// map lookups and a locked PTS decoder that reads the clock: four
// allocations and most of the CPU a camera costs besides the read syscall
// (profile of 150 cameras, 2026-12-03). Here the connection is read into
// one buffer, each packet is parsed in place into one reused rtp.Packet
// and goes straight to the camera's decoder, whose depacketizer copies
// the payload into the unit being assembled (an audio track's decoder
// may keep the packet: its payload gets a copy of its own, see
// ingest.Decoder.Retains). Nothing is pooled (invariant 6); the read
// buffer is the connection's and nothing refers into it once a Read
// returns.
//
// gortsplib still reads the connection: it is the reader's goroutine that
// calls Read, and what is not the camera's RTP — requests (keep-alives,
// TEARDOWN), RTCP, channels not set up — is handed up to it whole, so it
// parses from a message boundary as before. The direct path starts only at
type directIngest struct {
	conn    *framedConn
	ss      *gortsplib.ServerSession
	push    *push
	timeout time.Duration // gortsplib's ReadTimeout for recording sessions

	state ingestState
	// stopped is set when the camera's session closes: the connection is
	// gortsplib's again from the next message on.
	stopped atomic.Bool
	tracks  []ingestTrack // by interleaved RTP channel: channels[ch] indexes it
	byChan  [256]int8     // track index + 1 of an RTP channel, 0 for none

	buf  []byte // reads land in buf[w:]; reused, nothing refers into it past a Read
	r, w int    // buf[r:w] is read and not yet parsed
	pass []byte // a message for gortsplib (in buf), handed up before the next fill
	need int    // bytes the message at r needs before it can be parsed

	raw      *rawSocket // the plain TCP socket under conn; nil for others (TLS)
	pkt      rtp.Packet // the packet being handled; reused
	now      time.Time  // when the last read returned
	deadline time.Time  // when the read deadline was last pushed back
	pts      ptsDecoder
}

type ingestState uint8

const (
	ingestPending ingestState = iota // armed at RECORD; decided by the next read
	ingestOn
	ingestOff // gortsplib reads everything
)

// ingestTrack is one set-up media of the camera.
type ingestTrack struct {
	formats []format.Format
	seen    bool
	next    uint16 // the sequence number expected next
}

// gortsplibReadBuffer is the size of the bufio.Reader gortsplib reads a
// connection through (bufio's default): a Read asking for all of it comes
// from an empty buffer.
const gortsplibReadBuffer = 4096

// ingestBuffer is the size of a camera's read buffer, as gortsplib's: a
// frame or two of a small camera per read. A longer frame grows it for the
// time being.
const ingestBuffer = 4096

// maxMessageHead bounds an RTSP message's header while it is being
// framed; a camera that sends more is handed to gortsplib for good.
const maxMessageHead = 16 << 10

// deadlineEvery is how often the read deadline is pushed back: it then
// falls between timeout − deadlineEvery and timeout after the last read.
const deadlineEvery = time.Second

// armDirectIngest sets up the direct path for a camera session that
// records over plain interleaved TCP, its SETUP responses' channels in
// p.channels (in the order of ss.Medias). Any other session stays on
// gortsplib's path.
func armDirectIngest(sc *gortsplib.ServerConn, ss *gortsplib.ServerSession, p *push) {
	fc, ok := sc.NetConn().(*framedConn)
	tr := ss.Transport()
	// A later session on the same connection stays on gortsplib's path.
	if !ok || fc.ingest.Load() != nil || tr == nil || tr.Protocol != gortsplib.ProtocolTCP || tr.Profile != headers.TransportProfileAVP ||
		sc.Transport().Tunnel != gortsplib.TunnelNone {
		return
	}
	medias := ss.Medias()
	if len(medias) != len(p.channels) || len(medias) > 127 {
		return
	}
	in := &directIngest{conn: fc, ss: ss, push: p, timeout: p.s.cfg.ReadTimeout, raw: rawSocketOf(fc.Conn)}
	for i, m := range medias {
		ch := p.channels[i]
		if ch < 0 || ch > 255 || in.byChan[ch] != 0 {
			return
		}
		in.byChan[ch] = int8(i + 1)
		in.tracks = append(in.tracks, ingestTrack{formats: m.Formats})
	}
	p.in = in
	fc.ingest.Store(in)
}

// stop hands the connection back to gortsplib: its session closed.
func (in *directIngest) stop() { in.stopped.Store(true) }

// read is framedConn.Read while a direct ingest is armed.
func (in *directIngest) read(p []byte) (int, error) {
	switch in.state {
	case ingestOff:
		return in.conn.Conn.Read(p)
	case ingestPending:
		if len(p) != gortsplibReadBuffer || in.push.viaGortsplib {
			in.state = ingestOff
			return in.conn.Conn.Read(p)
		}
		in.state = ingestOn
		in.push.direct = true
	}
	for {
		if in.state == ingestOn && in.stopped.Load() {
			in.state = ingestOff
		}
		if len(in.pass) > 0 {
			n := copy(p, in.pass)
			in.pass = in.pass[n:]
			return n, nil
		}
		if in.state == ingestOff { // handed over: what is left of buf first
			if in.r < in.w {
				n := copy(p, in.buf[in.r:in.w])
				in.r += n
				return n, nil
			}
			return in.conn.Conn.Read(p)
		}
		in.parse()
		if len(in.pass) > 0 || in.state == ingestOff {
			continue
		}
		if err := in.fill(); err != nil {
			return 0, err
		}
	}
}

// parse handles the complete RTP frames at r and stops at a message for
// gortsplib (then in pass) or at one not read whole yet (need).
func (in *directIngest) parse() {
	for {
		b := in.buf[in.r:in.w]
		if len(b) == 0 {
			in.need = 0
			return
		}
		n, ok := messageLen(b)
		if n < 0 {
			in.state = ingestOff // not RTSP as far as we can frame it: gortsplib's call
			return
		}
		if !ok {
			in.need = n
			return
		}
		in.r += n
		if b[0] == '$' {
			if t := in.byChan[b[1]]; t > 0 {
				in.packet(&in.tracks[t-1], b[4:n:n])
				continue
			}
		}
		in.pass = b[:n:n]
		return
	}
}

// messageLen frames the RTSP stream at b: the length of the interleaved
// frame or message it starts with and true, or the bytes needed to tell
// and false, or -1 when b does not start with something framable.
func messageLen(b []byte) (int, bool) {
	if b[0] == '$' {
		if len(b) < 4 {
			return 4, false
		}
		n := 4 + (int(b[2])<<8 | int(b[3]))
		return n, len(b) >= n
	}
	if b[0] < 'A' || b[0] > 'Z' {
		return -1, false // gortsplib skips such bytes; let it
	}
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		if len(b) >= maxMessageHead {
			return -1, false
		}
		return len(b) + 1, false
	}
	head := end + 4
	body, err := contentLength(b[:end])
	if err != nil || body > maxMessageHead {
		return -1, false
	}
	return head + body, len(b) >= head+body
}

// contentLength reads the Content-Length header of an RTSP message head (0
// when there is none).
func contentLength(head []byte) (int, error) {
	for len(head) > 0 {
		line := head
		if i := bytes.Index(head, []byte("\r\n")); i >= 0 {
			line, head = head[:i], head[i+2:]
		} else {
			head = nil
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if ok && bytes.EqualFold(bytes.TrimSpace(name), []byte("Content-Length")) {
			n, err := strconv.Atoi(string(bytes.TrimSpace(value)))
			if err != nil || n < 0 {
				return 0, fmt.Errorf("bad Content-Length %q", value)
			}
			return n, nil
		}
	}
	return 0, nil
}

// fill reads more of the connection into buf, after the bytes not parsed
// yet (moved to its start), growing it for a frame longer than it.
func (in *directIngest) fill() error {
	if in.r > 0 {
		in.w = copy(in.buf, in.buf[in.r:in.w])
		in.r = 0
	}
	if in.need > len(in.buf) || in.w == len(in.buf) {
		next := make([]byte, max(ingestBuffer, in.need, in.w+1))
		copy(next, in.buf[:in.w])
		in.buf = next
	} else if in.w == 0 && len(in.buf) > ingestBuffer {
		in.buf = make([]byte, ingestBuffer) // a long frame's buffer is not kept
	}
	if in.now.Sub(in.deadline) >= deadlineEvery {
		in.deadline = in.now
		if err := in.conn.SetReadDeadline(in.now.Add(in.timeout)); err != nil {
			return err
		}
	}
	var n int
	var err error
	if in.raw != nil {
		n, err = in.raw.read(in.buf[in.w:])
	} else {
		n, err = in.conn.Conn.Read(in.buf[in.w:])
	}
	in.w += n
	in.now = time.Now()
	if n > 0 {
		return nil // an error comes back with the next read
	}
	if err == nil {
		err = errors.New("rtsp: empty read")
	}
	return err
}

// packet handles one RTP packet of track t, as gortsplib's record path
// would: loss counted, its PTS decoded, the packet handed to the camera.
func (in *directIngest) packet(t *ingestTrack, b []byte) {
	pkt := &in.pkt
	n, err := pkt.Header.Unmarshal(b)
	if err != nil {
		in.push.decodeError(err)
		return
	}
	end := len(b)
	if pkt.Padding {
		if end <= n || int(b[end-1]) > end-n {
			in.push.decodeError(errors.New("RTP padding larger than the packet"))
			return
		}
		pkt.PaddingSize = b[end-1]
		end -= int(pkt.PaddingSize)
	} else {
		pkt.PaddingSize = 0
	}
	pkt.Payload = b[n:end:end]
	var f format.Format
	for _, x := range t.formats {
		if x.PayloadType() == pkt.PayloadType {
			f = x
			break
		}
	}
	if f == nil {
		in.push.decodeError(fmt.Errorf("RTP packet of unknown payload type %d", pkt.PayloadType))
		return
	}
	if in.push.dec.Retains(f) {
		// This track's decoder refers to packets past the call: the
		// payload gets its own copy, as gortsplib gives it.
		pkt.Payload = bytes.Clone(pkt.Payload)
	}
	if t.seen {
		if lost := pkt.SequenceNumber - t.next; lost != 0 && lost < 0x8000 {
			in.push.lost += uint64(lost)
		}
	}
	t.seen, t.next = true, pkt.SequenceNumber+1
	pts, ok := in.pts.decode(f, pkt, in.now)
	if !ok {
		return
	}
	in.push.packet(in.ss, f, pkt, pts)
	pkt.Payload = nil
}

// ptsDecoder is gortsplib's rtptime.GlobalDecoder for one session read on
// one goroutine: each format's RTP timestamps unwrapped from its first
// packet, which starts at the leading format's PTS then (so tracks stay in
// step), without a lock or a clock read per packet.
type ptsDecoder struct {
	tracks    []ptsTrack
	leading   format.Format
	startWall time.Time
	startPTS  int64
	startRate int64
}

type ptsTrack struct {
	f       format.Format
	overall int64
	prev    uint32
}

func (d *ptsDecoder) decode(f format.Format, pkt *rtp.Packet, now time.Time) (int64, bool) {
	rate := int64(f.ClockRate())
	if rate == 0 {
		return 0, false
	}
	var t *ptsTrack
	for i := range d.tracks {
		if d.tracks[i].f == f {
			t = &d.tracks[i]
			break
		}
	}
	if t == nil {
		if !f.PTSEqualsDTS(pkt) {
			return 0, false
		}
		if d.leading == nil {
			d.leading, d.startWall, d.startPTS, d.startRate = f, now, 0, rate
		}
		start := mulDiv(d.startPTS, rate, d.startRate) + mulDiv(int64(now.Sub(d.startWall)), rate, int64(time.Second))
		d.tracks = append(d.tracks, ptsTrack{f: f, overall: start, prev: pkt.Timestamp})
		return start, true
	}
	t.overall += int64(int32(pkt.Timestamp - t.prev))
	t.prev = pkt.Timestamp
	if f == d.leading && f.PTSEqualsDTS(pkt) {
		d.startWall, d.startPTS = now, t.overall
	}
	return t.overall, true
}

// mulDiv is v*m/d without overflowing for v in nanoseconds.
func mulDiv(v, m, d int64) int64 {
	return v/d*m + v%d*m/d
}

// Read reads the connection, through the direct ingest once one is armed.
func (f *framedConn) Read(p []byte) (int, error) {
	if in := f.ingest.Load(); in != nil {
		return in.read(p)
	}
	n, err := f.Conn.Read(p)
	if ok, first := f.countRead(p[:n]); !ok {
		if first && f.oversized != nil {
			f.oversized(f.RemoteAddr())
		}
		return 0, errFirstRequestTooLarge
	}
	return n, err
}

var _ net.Conn = (*framedConn)(nil)
