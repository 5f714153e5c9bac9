package rtsp

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"os"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/ntp"
	"github.com/pion/rtcp"

	"vigil/internal/access"
	"vigil/internal/audit"
	"vigil/internal/hub"
	"vigil/internal/ingest"
	"vigil/internal/media"
)

// play is one viewer's RTSP session: its own hub reader and its own
// gortsplib stream, so what it is sent starts from the GOP cache and a slow
// viewer only slows itself.
type play struct {
	s      *Server
	reader *hub.Reader
	stream *gortsplib.ServerStream
	medias []*description.Media
	clocks []clock
	// channels are the interleaved RTP channels of set-up tracks (-1 for
	// others), learnt from SETUP responses; used for direct TCP writes.
	channels []int
	// direct writes TCP viewers' RTP without gortsplib's per-packet path; nil
	// for UDP viewers, whose packets go through gortsplib.
	direct *directWriter
	// reported marks tracks whose first sender report went out (UDP path).
	reported []bool
	// seqs are the UDP path's next RTP sequence numbers, per track, from a
	// random start (RFC 3550 §5.1): gortsplib sets the SSRC, not these, and
	// the cached packets carry none.
	seqs []uint16
	// rec is the session's access-history record; nil when not recorded.
	rec *audit.Session
	// restSize is the size of the unit deliver left to run to finish.
	restSize int
	// paced is when the last packet written through gortsplib is due (see
	// pace).
	paced time.Time
	// started is set by start, on the session's goroutine.
	started bool
	// mu guards closed, set by close, against begin, which may run after
	// it; begin sets the fields below it under mu.
	mu     sync.Mutex
	closed bool
	// For a viewer on a plain TCP socket, which the camera's goroutine
	// writes to while it keeps up: active counts the goroutines wake
	// started (at most one at a time), stopAfter the server's shutdown
	// watch. Otherwise cancel and done end and wait for the play loop.
	active    sync.WaitGroup
	stopAfter func() bool
	cancel    context.CancelFunc
	done      chan struct{}
	ss        *gortsplib.ServerSession
}

// clock maps a track's PTS to this viewer's RTP timestamps, offset by a
// random base (RFC 3550 §5.1).
type clock struct {
	base uint32
	rate int64
}

func (c clock) rtp(pts time.Duration) uint32 {
	return c.base + uint32(media.DurationToClock(pts, c.rate))
}

func (s *Server) newPlay(g access.Grant, t target) (*play, error) {
	r, err := s.cfg.Hub.Read(g, t.stream)
	if err != nil {
		return nil, err
	}
	desc := ingest.Describe(r.Tracks())
	n := len(desc.Medias)
	p := &play{s: s, reader: r, medias: desc.Medias, reported: make([]bool, n), seqs: make([]uint16, n), channels: make([]int, n)}
	for i, tr := range r.Tracks() {
		var b [6]byte
		rand.Read(b[:])
		p.clocks = append(p.clocks, clock{base: binary.BigEndian.Uint32(b[:]), rate: int64(tr.Format.ClockRate())})
		p.seqs[i] = binary.BigEndian.Uint16(b[4:])
		p.channels[i] = -1
	}
	p.stream = &gortsplib.ServerStream{Server: s.srv, Desc: desc}
	if err := p.stream.Initialize(); err != nil {
		r.Close()
		return nil, err
	}
	return p, nil
}

func (p *play) start(ss *gortsplib.ServerSession) {
	if p.started {
		return // already running (a later response on the same connection)
	}
	p.started, p.ss = true, ss
	rec, err := p.s.cfg.Record.Start(p.reader.Grant(), "rtsp", ss.Conns()[0].NetConn().RemoteAddr().String())
	if err != nil {
		p.s.cfg.Logger.Error("rtsp viewer not served: access history unavailable", "camera", p.reader.Owner().Device, "error", err)
		ss.Close()
		return
	}
	p.rec = rec
	fc, framed := ss.Conns()[0].NetConn().(*framedConn)
	if framed && ss.Transport().Protocol == gortsplib.ProtocolTCP {
		p.direct = &directWriter{conn: fc, timeout: p.s.cfg.WriteTimeout}
		stats := p.stream.Stats()
		for i, m := range p.medias {
			p.direct.tracks = append(p.direct.tracks, directTrack{channel: p.channels[i],
				ssrc: stats.Medias[m].Formats[m.Formats[0]].LocalSSRC, seq: uint16(p.clocks[i].base)})
		}
	}
	p.s.cfg.Logger.Debug("rtsp viewer playing", "camera", p.reader.Owner().Device, "user", p.reader.Grant().User(),
		"transport", ss.Transport().Protocol.String(), "direct", p.direct != nil, "channels", p.channels)
	// gortsplib writes the PLAY response after OnResponse, where start
	// runs: the direct writer must not write the cached GOP ahead of it,
	// where a client that reads interleaved frames as noise while it
	// waits for the response (ffmpeg does) loses the keyframe.
	if framed {
		fc.afterNextWrite(p.begin)
		return
	}
	p.begin()
}

// begin starts writing to the viewer, unless it was closed meanwhile.
func (p *play) begin() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	if p.direct != nil && p.direct.conn.raw != nil {
		p.reader.Deliver(p.deliver)
		p.stopAfter = context.AfterFunc(p.s.ctx, p.reader.Close)
		p.reader.OnReady(p.wake)
		return
	}
	ctx, cancel := context.WithCancel(p.s.ctx)
	p.cancel, p.done = cancel, make(chan struct{})
	p.s.wg.Add(1)
	go func() {
		defer p.s.wg.Done()
		defer close(p.done)
		p.end(p.run(ctx))
	}()
}

// end closes the viewer's session for the reason err.
func (p *play) end(err error) {
	p.s.cfg.Logger.Debug("rtsp viewer ended", "camera", p.reader.Owner().Device,
		"user", p.reader.Grant().User(), "skips", p.reader.Skips(), "reason", err)
	p.ss.Close()
}

// run moves units from the hub reader to the viewer until either ends.
func (p *play) run(ctx context.Context) error {
	for {
		u, err := p.reader.Next(ctx)
		if err != nil {
			return err
		}
		if err := p.send(ctx, u); err != nil {
			return err
		}
	}
}

// wake is the hub reader's wake (hub.Reader.OnReady) of a viewer the
// camera's goroutine writes to: it starts a goroutine that writes what was
// left for it — a unit deliver did not finish, units queued behind it —
// and returns once nothing is left, or ends the session.
func (p *play) wake() {
	p.s.wg.Add(1)
	p.active.Add(1)
	go func() {
		defer p.s.wg.Done()
		defer p.active.Done()
		for {
			u, ok, err := p.reader.Drain()
			if !ok {
				return
			}
			if err == nil {
				err = p.send(p.s.ctx, u)
			}
			if err != nil {
				p.end(err)
				return
			}
		}
	}()
}

// send writes u to the viewer; a nil u finishes the unit deliver left
// unfinished.
func (p *play) send(ctx context.Context, u *media.Unit) error {
	if u == nil { // deliver left a unit unfinished
		if err := p.dropped(p.direct.flush()); err != nil {
			return err
		}
		p.rec.Add(p.restSize)
		return nil
	}
	if err := p.reader.Egress(u); err != nil {
		return err // nothing of u is written
	}
	pkts, err := p.s.packets.get(u, p.reader.Tracks()[u.Track].Format)
	if err != nil {
		return nil // a unit the packetizer cannot carry is skipped, not fatal
	}
	ts, wall := p.clocks[u.Track].rtp(u.PTS), p.reader.WallClock(u.PTS)
	if p.direct != nil {
		err = p.dropped(p.direct.write(u.Track, pkts, ts, wall))
	} else {
		err = p.viaStream(ctx, u.Track, pkts, ts, wall)
	}
	if err != nil {
		return err
	}
	p.rec.Add(u.Size())
	return nil
}

// deliver is the hub reader's deliverer (hub.Reader.Deliver) of a TCP
// viewer on a plain socket: while the viewer keeps up, the camera's
// goroutine writes each unit to it as far as its socket takes the unit at
// once, and the viewer's own goroutine is not woken. What the socket does
// not take, run finishes (flush), in order, and the units after it are
// queued for run as without a deliverer until it has caught up. The hub
// has passed u through the egress check of this viewer's grant.
func (p *play) deliver(u *media.Unit) hub.Delivery {
	pkts, err := p.s.packets.get(u, p.reader.Tracks()[u.Track].Format)
	if err != nil {
		return hub.Delivered // skipped, as run skips it
	}
	ok, done := p.direct.tryWrite(u.Track, pkts, p.clocks[u.Track].rtp(u.PTS), p.reader.WallClock(u.PTS))
	switch {
	case !ok:
		return hub.Declined
	case !done:
		p.restSize = u.Size()
		return hub.Unfinished
	}
	p.rec.Add(u.Size())
	return hub.Delivered
}

// dropped counts err when it is a write timeout: a viewer that took
// nothing for WriteTimeout. It returns err.
func (p *play) dropped(err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) && p.s.cfg.Dropped != nil {
		p.s.cfg.Dropped.Inc()
	}
	return err
}

// viaStream writes through gortsplib (UDP viewers). The cached packets are
// shared, so each is joined into an rtp.Packet of its own before gortsplib
// sets its SSRC and sequence.
// Every packet is paced: UDP viewers get the cached GOP at udpReplayRate,
// packet by packet — sent at once, a GOP (or one large keyframe) overflows
// gortsplib's write queue and socket buffers, losing the very keyframe the
// join needs — and live units at liveRate, far above any camera's, which
// only spreads a large keyframe so that gortsplib's write queue
// (writeQueue) holds a few milliseconds of packets at most.
const (
	udpReplayRate = 20_000_000  // bits per second
	liveRate      = 100_000_000 // bits per second; 5 ms is about 45 packets
	replayLag     = 200 * time.Millisecond
	paceQuantum   = 5 * time.Millisecond // sleep only when this far ahead
)

// pace waits until a packet of size bytes may go out at rate bits per
// second.
func (p *play) pace(ctx context.Context, size, rate int) error {
	now := time.Now()
	if p.paced.Before(now) {
		p.paced = now
	}
	p.paced = p.paced.Add(time.Duration(size) * 8 * time.Second / time.Duration(rate))
	if ahead := time.Until(p.paced); ahead > paceQuantum {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(ahead):
		}
	}
	return nil
}

func (p *play) viaStream(ctx context.Context, track int, pkts []packet, ts uint32, wall time.Time) error {
	m := p.medias[track]
	if !p.reported[track] {
		p.reportFirst(track, ts, wall)
	}
	rate := liveRate
	if time.Since(wall) > replayLag {
		rate = udpReplayRate
	}
	for i := range pkts {
		if err := p.pace(ctx, rtpHeaderSize+pkts[i].size(), rate); err != nil {
			return err
		}
		pkt := pkts[i].rtp(ts)
		pkt.SequenceNumber = p.seqs[track]
		p.seqs[track]++
		if err := p.stream.WritePacketRTPWithNTP(m, pkt, wall); err != nil {
			return err
		}
	}
	return nil
}

// reportFirst sends an RTCP sender report (RFC 3550 §6.4.1) ahead of a
// track's first packet. gortsplib sends its first one only after the first
// packet; a player that learns the RTP-to-wall-clock mapping after the
// cached GOP's packets re-times them and sees timestamps jump. The mapping
// is the one every later report uses: the session's wall clock at the PTS.
func (p *play) reportFirst(track int, ts uint32, wall time.Time) {
	p.reported[track] = true
	m := p.medias[track]
	st := p.stream.Stats().Medias[m].Formats[m.Formats[0]]
	p.stream.WritePacketRTCP(m, &rtcp.SenderReport{SSRC: st.LocalSSRC, NTPTime: ntp.Encode(wall), RTPTime: ts})
}

func (p *play) close() {
	defer p.rec.End()
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.reader.Close()
	if p.stopAfter != nil {
		p.stopAfter()
	}
	p.active.Wait() // Close woke the last goroutine, if any, before it returned
	if p.cancel != nil {
		p.cancel()
		<-p.done
	}
	p.stream.Close()
}
