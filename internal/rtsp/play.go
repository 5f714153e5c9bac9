package rtsp

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/ntp"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"vigil/internal/access"
	"vigil/internal/hub"
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
	enc    []packetizer
	// reported marks tracks whose first sender report went out.
	reported []bool
	cancel   context.CancelFunc
	done     chan struct{}
}

func (s *Server) newPlay(g access.Grant, t target) (*play, error) {
	r, err := s.Hub.Read(g, t.stream)
	if err != nil {
		return nil, err
	}
	desc := s.tracksDesc(r.Tracks())
	p := &play{s: s, reader: r, medias: desc.Medias, reported: make([]bool, len(desc.Medias))}
	for _, tr := range r.Tracks() {
		e, err := newPacketizer(tr.Format)
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("camera %s: %w", t.device, err)
		}
		p.enc = append(p.enc, e)
	}
	p.stream = &gortsplib.ServerStream{Server: s.srv, Desc: desc}
	if err := p.stream.Initialize(); err != nil {
		r.Close()
		return nil, err
	}
	return p, nil
}

func (p *play) start(ss *gortsplib.ServerSession) {
	if p.cancel != nil {
		return // already running (a later response on the same connection)
	}
	ctx, cancel := context.WithCancel(p.s.ctx)
	p.cancel, p.done = cancel, make(chan struct{})
	p.s.wg.Add(1)
	go func() {
		defer p.s.wg.Done()
		defer close(p.done)
		err := p.run(ctx)
		p.s.Logger.Debug("rtsp viewer ended", "camera", p.reader.Owner().Device,
			"user", p.reader.Grant().User(), "skips", p.reader.Skips(), "reason", err)
		ss.Close()
	}()
}

// run moves units from the hub reader to the viewer until either ends.
func (p *play) run(ctx context.Context) error {
	for {
		u, err := p.reader.Next(ctx)
		if err != nil {
			return err
		}
		if err := p.reader.Egress(u); err != nil {
			return err // nothing of u is written
		}
		pkts, err := p.enc[u.Track].packetize(u)
		if err != nil {
			continue // a unit the packetizer cannot carry is skipped, not fatal
		}
		wall := p.reader.WallClock(u.PTS)
		if !p.reported[u.Track] {
			p.reportFirst(u, wall)
		}
		for _, pkt := range pkts {
			if err := p.stream.WritePacketRTPWithNTP(p.medias[u.Track], pkt, wall); err != nil {
				return err
			}
		}
	}
}

// reportFirst sends an RTCP sender report (RFC 3550 §6.4.1) ahead of a
// track's first packet. gortsplib sends its first one only after the first
// packet; a player that learns the RTP-to-wall-clock mapping after the
// cached GOP's packets re-times them and sees timestamps jump. The mapping
// is the one every later report uses: the session's wall clock at the PTS.
func (p *play) reportFirst(u *media.Unit, wall time.Time) {
	p.reported[u.Track] = true
	m := p.medias[u.Track]
	st := p.stream.Stats().Medias[m].Formats[m.Formats[0]]
	e := p.enc[u.Track]
	p.stream.WritePacketRTCP(m, &rtcp.SenderReport{
		SSRC:    st.LocalSSRC,
		NTPTime: ntp.Encode(wall),
		RTPTime: e.base + uint32(media.DurationToClock(u.PTS, e.clockRate)),
	})
}

func (p *play) close() {
	p.reader.Close()
	if p.cancel != nil {
		p.cancel()
		<-p.done
	}
	p.stream.Close()
}

// packetizer turns units of one track into RTP packets with timestamps on
// the track's clock, offset by a random base (RFC 3550 §5.1).
type packetizer struct {
	encode    func(*media.Unit) ([]*rtp.Packet, error)
	clockRate int64
	base      uint32
}

func (e packetizer) packetize(u *media.Unit) ([]*rtp.Packet, error) {
	if len(u.Payload) == 0 {
		return nil, fmt.Errorf("empty unit")
	}
	pkts, err := e.encode(u)
	if err != nil {
		return nil, err
	}
	ts := e.base + uint32(media.DurationToClock(u.PTS, e.clockRate))
	for _, p := range pkts {
		p.Timestamp += ts
	}
	return pkts, nil
}

func newPacketizer(f format.Format) (packetizer, error) {
	var b [4]byte
	rand.Read(b[:])
	e := packetizer{clockRate: int64(f.ClockRate()), base: binary.BigEndian.Uint32(b[:])}
	var err error
	switch f := f.(type) {
	case *format.H264:
		enc, er := f.CreateEncoder()
		e.encode, err = func(u *media.Unit) ([]*rtp.Packet, error) { return enc.Encode(u.Payload) }, er
	case *format.H265:
		enc, er := f.CreateEncoder()
		e.encode, err = func(u *media.Unit) ([]*rtp.Packet, error) { return enc.Encode(u.Payload) }, er
	case *format.MPEG4Audio:
		enc, er := f.CreateEncoder()
		e.encode, err = func(u *media.Unit) ([]*rtp.Packet, error) { return enc.Encode(u.Payload) }, er
	case *format.Opus:
		enc, er := f.CreateEncoder()
		e.encode, err = func(u *media.Unit) ([]*rtp.Packet, error) {
			p, err := enc.Encode(u.Payload[0])
			return []*rtp.Packet{p}, err
		}, er
	case *format.G711:
		enc, er := f.CreateEncoder()
		e.encode, err = func(u *media.Unit) ([]*rtp.Packet, error) { return enc.Encode(u.Payload[0]) }, er
	default:
		err = fmt.Errorf("no packetizer for %T", f)
	}
	return e, err
}
