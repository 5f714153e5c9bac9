package rtsp

import (
	"encoding/binary"
	"net"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/ntp"
	"github.com/pion/rtcp"
)

// directWriter writes a TCP viewer's interleaved RTP itself (RFC 2326
// §10.12): one writev per access unit, headers built per viewer, payloads
// shared from the packet cache. gortsplib still does the handshake and reads
// the connection; its per-packet write path (a copy, a queue entry and a
// syscall per packet per viewer) is what this replaces. A write that times
// out or fails closes the connection.
type directWriter struct {
	conn    *framedConn
	timeout time.Duration
	tracks  []directTrack
	hdr     []byte      // headers of the unit being written; this viewer's own
	bufs    net.Buffers // headers and shared payloads of the unit being written
	// rest is what the socket did not take of a unit tryWrite began (a
	// tail of bufs, pointing into hdr and the unit's payload): flush
	// writes it before hdr and bufs are reused for the next unit.
	rest net.Buffers
	// restErr is the error tryWrite met, returned by flush.
	restErr error
}

// directTrack is one set-up track's RTP state for this viewer.
type directTrack struct {
	channel int // interleaved RTP channel; RTCP is channel+1; -1 when not set up
	ssrc    uint32
	seq     uint16
	packets uint32
	octets  uint32
	lastSR  time.Time
}

// srPeriod is how often a sender report goes out per track (RFC 3550 §6.2
// suggests about 5 s).
const srPeriod = 5 * time.Second

const rtpHeaderSize = 12

// write sends one unit's packets on track i, preceded by a sender report
// when one is due. ts is the unit's RTP timestamp; wall its wall clock.
func (w *directWriter) write(i int, pkts []packet, ts uint32, wall time.Time) error {
	if !w.frame(i, pkts, ts, wall) {
		return nil
	}
	bufs := w.bufs // WriteTo consumes its slice; keep ours for the next unit
	return w.conn.writeBuffers(&bufs, w.timeout)
}

// tryWrite is write without waiting (framedConn.tryLock, writeNow): ok is
// false when it wrote nothing and the unit must go through write;
// otherwise the unit is taken, and done is false when flush must finish it
// (the socket took only part of it, or the write failed).
func (w *directWriter) tryWrite(i int, pkts []packet, ts uint32, wall time.Time) (ok, done bool) {
	if w.tracks[i].channel < 0 {
		return true, true
	}
	// Framing moves the track's sequence numbers: take the connection
	// first, or leave the unit to write.
	if !w.conn.tryLock() {
		return false, true
	}
	defer w.conn.mu.Unlock()
	w.frame(i, pkts, ts, wall)
	bufs := w.bufs
	err := w.conn.writeNow(&bufs, w.timeout)
	if err == nil && len(bufs) == 0 {
		return true, true
	}
	w.rest, w.restErr = bufs, err
	return true, false
}

// flush finishes the unit tryWrite left, waiting as write does.
func (w *directWriter) flush() error {
	rest, err := w.rest, w.restErr
	w.rest, w.restErr = nil, nil
	if err != nil {
		return err
	}
	return w.conn.writeBuffers(&rest, w.timeout)
}

// frame builds track i's unit into hdr and bufs; false when the track is
// not set up.
func (w *directWriter) frame(i int, pkts []packet, ts uint32, wall time.Time) bool {
	t := &w.tracks[i]
	if t.channel < 0 {
		return false
	}
	w.hdr, w.bufs = w.hdr[:0], w.bufs[:0]
	if wall.Sub(t.lastSR) >= srPeriod || t.lastSR.IsZero() {
		w.appendSR(t, ts, wall)
	}
	start := len(w.hdr)
	for i := range pkts {
		p := &pkts[i]
		n := rtpHeaderSize + p.size()
		w.hdr = append(w.hdr, '$', byte(t.channel), byte(n>>8), byte(n),
			2<<6, p.pt, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
		h := w.hdr[len(w.hdr)-rtpHeaderSize:]
		if p.marker {
			h[1] |= 0x80
		}
		binary.BigEndian.PutUint16(h[2:], t.seq)
		binary.BigEndian.PutUint32(h[4:], ts+p.ts)
		binary.BigEndian.PutUint32(h[8:], t.ssrc)
		w.hdr = append(w.hdr, p.prefix[:p.np]...)
		t.seq++
		t.packets++
		t.octets += uint32(p.size())
	}
	// Slice the header buffer only now: appends above may have moved it.
	off := start
	for i := range pkts {
		p := &pkts[i]
		end := off + 4 + rtpHeaderSize + int(p.np)
		w.bufs = append(w.bufs, w.hdr[off:end], p.body)
		off = end
	}
	if start > 0 {
		w.bufs = append(net.Buffers{w.hdr[:start]}, w.bufs...)
	}
	return true
}

// appendSR adds an interleaved RTCP sender report (RFC 3550 §6.4.1) mapping
// ts to wall, the same mapping every packet of this viewer follows.
func (w *directWriter) appendSR(t *directTrack, ts uint32, wall time.Time) {
	sr := rtcp.SenderReport{SSRC: t.ssrc, NTPTime: ntp.Encode(wall), RTPTime: ts,
		PacketCount: t.packets, OctetCount: t.octets}
	b, err := sr.Marshal()
	if err != nil {
		return
	}
	w.hdr = append(w.hdr, '$', byte(t.channel+1), byte(len(b)>>8), byte(len(b)))
	w.hdr = append(w.hdr, b...)
	t.lastSR = wall
}
