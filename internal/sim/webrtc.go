package sim

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/logging"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// WebRTCViewer is a receive-only WebRTC peer on pion, an independent
// client of a WebRTC output: it offers to receive H.264 (and audio),
// depacketizes the video it gets, checks every access unit's stamp with a
// Checker and keeps timing figures. Make it with NewWebRTCViewer, send
// Offer's SDP to the server, give its answer to Accept, and Close it.
type WebRTCViewer struct {
	pc        *webrtc.PeerConnection
	chk       *Checker
	opts      WebRTCOptions
	connected chan struct{}
	gone      chan struct{}
	connOnce  sync.Once
	goneOnce  sync.Once

	mu    sync.Mutex
	stats WebRTCStats // guarded by mu
	prev  time.Time   // guarded by mu; the previous unit's arrival
	// highest is the highest video sequence number seen; guarded by mu.
	highest uint16
}

// WebRTCOptions configure a WebRTCViewer.
type WebRTCOptions struct {
	// Audio offers to receive audio too (Opus, PCMU, PCMA).
	Audio bool
	// SendAudio makes the audio section sendrecv, as an Echo Show offers
	// it (its microphone for two-way talk); it needs Audio.
	SendAudio bool
	// StallGap is the pause between two video access units that counts as
	// a stall. It defaults to 500 ms.
	StallGap time.Duration
	// AllInterfaces gathers candidates on every interface; by default the
	// viewer uses loopback only, as tests and the bench want.
	AllInterfaces bool
	// UDPConn, if set, carries all of the viewer's ICE traffic (one host
	// candidate, its address), so that a test can cut the viewer off the
	// network without a goodbye. The viewer does not close it.
	UDPConn net.PacketConn
	// OnUnit, if set, is called with every complete video access unit, on
	// the viewer's own goroutine, after the stamp check: a caller judging
	// each unit itself (the leak canary checks camera and capture time).
	OnUnit func(au [][]byte)
	// OnAudio, if set, is called for every audio RTP packet received.
	OnAudio func()
}

// WebRTCStats is what a WebRTCViewer received.
type WebRTCStats struct {
	// Units counts complete video access units.
	Units int
	// FirstUnit is when the first one completed.
	FirstUnit time.Time
	// FirstKey and FirstParams: the first unit held an IDR picture, and
	// SPS and PPS.
	FirstKey, FirstParams bool
	// LastUnit is when the latest unit completed.
	LastUnit time.Time
	// MaxGap is the longest pause between two units; Stalls counts pauses
	// longer than StallGap.
	MaxGap time.Duration
	Stalls int
	// VideoPackets and VideoBytes count video RTP packets and their bytes
	// (header and payload). Lost counts the packets missing when a later
	// one arrived, Late those that arrived after a later one (NACK
	// retransmissions): Lost − Late were never repaired.
	VideoPackets int
	VideoBytes   int64
	Lost, Late   int
	// AudioPackets counts audio RTP packets, of AudioCodec (a MIME type).
	AudioPackets int
	AudioCodec   string
}

// NewWebRTCViewer returns a viewer checking stamps with keys.
func NewWebRTCViewer(keys Keys, opts WebRTCOptions) (*WebRTCViewer, error) {
	if opts.StallGap <= 0 {
		opts.StallGap = 500 * time.Millisecond
	}
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	// NACKs as a browser sends them: soon after a gap, over a window that
	// holds a GOP sent at once on joining.
	ir := &interceptor.Registry{}
	gen := []nack.GeneratorOption{nack.GeneratorSize(4096), nack.GeneratorInterval(20 * time.Millisecond)}
	if err := webrtc.ConfigureNackWithOptions(me, ir, gen); err != nil {
		return nil, err
	}
	if err := webrtc.ConfigureRTCPReports(ir); err != nil {
		return nil, err
	}
	// Transport-wide congestion control feedback (TWCC), as browsers
	// send it: the server's bandwidth estimate comes from it.
	if err := webrtc.ConfigureTWCCSender(me, ir); err != nil {
		return nil, err
	}
	// The viewer is a test client: pion's own complaints (a socket closed
	// under it on teardown) would only clutter test output.
	quiet := logging.NewDefaultLoggerFactory()
	quiet.DefaultLogLevel = logging.LogLevelDisabled
	se := webrtc.SettingEngine{LoggerFactory: quiet}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	if !opts.AllInterfaces {
		se.SetIncludeLoopbackCandidate(true)
		se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	}
	if opts.UDPConn != nil {
		se.SetICEUDPMux(ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: opts.UDPConn, Logger: quiet.NewLogger("udpmux")}))
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	v := &WebRTCViewer{pc: pc, chk: NewChecker(keys), opts: opts,
		connected: make(chan struct{}), gone: make(chan struct{})}
	kinds := []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo}
	if opts.Audio {
		kinds = append(kinds, webrtc.RTPCodecTypeAudio)
	}
	for _, k := range kinds {
		dir := webrtc.RTPTransceiverDirectionRecvonly
		if k == webrtc.RTPCodecTypeAudio && opts.SendAudio {
			dir = webrtc.RTPTransceiverDirectionSendrecv
		}
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: dir}); err != nil {
			pc.Close()
			return nil, err
		}
	}
	pc.OnConnectionStateChange(v.onState)
	pc.OnTrack(v.onTrack)
	return v, nil
}

// Offer returns the viewer's complete offer (its candidates gathered).
func (v *WebRTCViewer) Offer(ctx context.Context) (string, error) {
	offer, err := v.pc.CreateOffer(nil)
	if err != nil {
		return "", err
	}
	gathered := webrtc.GatheringCompletePromise(v.pc)
	if err := v.pc.SetLocalDescription(offer); err != nil {
		return "", err
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return v.pc.LocalDescription().SDP, nil
}

// Accept applies the server's answer; the connection then starts.
func (v *WebRTCViewer) Accept(answer string) error {
	return v.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer})
}

// Connected is closed when ICE and DTLS have connected.
func (v *WebRTCViewer) Connected() <-chan struct{} { return v.connected }

// Gone is closed when the connection failed or was closed.
func (v *WebRTCViewer) Gone() <-chan struct{} { return v.gone }

// Checker holds the stamps of the video received so far.
func (v *WebRTCViewer) Checker() *Checker { return v.chk }

// Stats returns a copy of the figures so far.
func (v *WebRTCViewer) Stats() WebRTCStats {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.stats
}

// Close closes the connection and waits for pion's goroutines.
func (v *WebRTCViewer) Close() error { return v.pc.GracefulClose() }

func (v *WebRTCViewer) onState(s webrtc.PeerConnectionState) {
	switch s {
	case webrtc.PeerConnectionStateConnected:
		v.connOnce.Do(func() { close(v.connected) })
	case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
		v.goneOnce.Do(func() { close(v.gone) })
	}
}

// onTrack reads one track until the connection ends.
func (v *WebRTCViewer) onTrack(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	if t.Kind() == webrtc.RTPCodecTypeAudio {
		v.mu.Lock()
		v.stats.AudioCodec = t.Codec().MimeType
		v.mu.Unlock()
		for {
			if _, _, err := t.ReadRTP(); err != nil {
				return
			}
			v.mu.Lock()
			v.stats.AudioPackets++
			v.mu.Unlock()
			if v.opts.OnAudio != nil {
				v.opts.OnAudio()
			}
		}
	}
	if !strings.EqualFold(t.Codec().MimeType, webrtc.MimeTypeH264) {
		return
	}
	// A jitter buffer, as browsers have: packets that NACKs brought back
	// late are put back in order before the units are cut.
	jb := &jitterBuffer{pkts: map[uint16]*rtp.Packet{}, now: time.Now}
	var dec *rtph264.Decoder
	for {
		pkt, _, err := t.ReadRTP()
		if err != nil {
			return
		}
		v.packet(pkt)
		for _, p := range jb.push(pkt) {
			if p == nil || dec == nil { // a gap given up on: start afresh
				dec = &rtph264.Decoder{PacketizationMode: 1}
				if err := dec.Init(); err != nil {
					return
				}
			}
			if p == nil {
				continue
			}
			if au, err := dec.Decode(p); err == nil {
				v.unit(au, time.Now())
			}
		}
	}
}

// jitterBuffer puts one stream's RTP packets back in sequence order. It
// waits for a missing packet until reorderPackets later ones are held or
// the earliest held one has waited reorderWait, then gives up on it: each
// packet waits reorderWait at most, however many gaps are before it, as
// in a browser's jitter buffer (a run of gaps that will never be repaired
// costs one wait, not one each).
type jitterBuffer struct {
	pkts    map[uint16]*rtp.Packet
	arrived map[uint16]time.Time // when each held packet arrived
	next    uint16
	started bool
	now     func() time.Time
}

// How long the jitter buffer waits for a missing packet: long enough for
// a NACK and its retransmission, as a browser's does.
const (
	reorderPackets = 2000
	reorderWait    = 500 * time.Millisecond
)

// push adds p and returns the packets now in order; a nil among them marks
// a gap given up on.
func (j *jitterBuffer) push(p *rtp.Packet) []*rtp.Packet {
	if !j.started {
		j.next, j.started = p.SequenceNumber, true
	}
	if int16(p.SequenceNumber-j.next) < 0 {
		return nil // a duplicate, or later than a gap given up on
	}
	if j.arrived == nil {
		j.arrived = map[uint16]time.Time{}
	}
	j.pkts[p.SequenceNumber], j.arrived[p.SequenceNumber] = p, j.now()
	var out []*rtp.Packet
	for {
		if q, ok := j.pkts[j.next]; ok {
			delete(j.pkts, j.next)
			delete(j.arrived, j.next)
			out = append(out, q)
			j.next++
			continue
		}
		if len(j.pkts) == 0 {
			return out
		}
		lowest := j.next + 0x7fff
		for seq := range j.pkts {
			if int16(seq-lowest) < 0 {
				lowest = seq
			}
		}
		if len(j.pkts) <= reorderPackets && j.now().Sub(j.arrived[lowest]) < reorderWait {
			return out
		}
		j.next = lowest
		out = append(out, nil)
	}
}

// packet counts a video packet, and the packets missing before it or the
// retransmission it is (sequence numbers compared modulo 2^16).
func (v *WebRTCViewer) packet(pkt *rtp.Packet) {
	v.mu.Lock()
	defer v.mu.Unlock()
	s := &v.stats
	d := pkt.SequenceNumber - v.highest
	switch {
	case s.VideoPackets == 0:
		v.highest = pkt.SequenceNumber
	case d > 0 && d < 0x8000:
		s.Lost += int(d - 1)
		v.highest = pkt.SequenceNumber
	default:
		s.Late++
	}
	s.VideoPackets++
	s.VideoBytes += int64(pkt.MarshalSize())
}

// unit records a complete access unit and checks its stamp.
func (v *WebRTCViewer) unit(au [][]byte, at time.Time) {
	v.chk.AccessUnit(au) // bad stamps are counted by the checker
	if v.opts.OnUnit != nil {
		v.opts.OnUnit(au)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	s := &v.stats
	if s.Units == 0 {
		s.FirstUnit = at
		s.FirstKey = h264.IsRandomAccess(au)
		var sps, pps bool
		for _, n := range au {
			sps = sps || len(n) > 0 && h264.NALUType(n[0]&0x1f) == h264.NALUTypeSPS
			pps = pps || len(n) > 0 && h264.NALUType(n[0]&0x1f) == h264.NALUTypePPS
		}
		s.FirstParams = sps && pps
	} else if gap := at.Sub(v.prev); gap > s.MaxGap {
		s.MaxGap = gap
	}
	if s.Units > 0 && at.Sub(v.prev) > v.opts.StallGap {
		s.Stalls++
	}
	s.Units++
	s.LastUnit, v.prev = at, at
}

// WaitUnits waits until n video units have arrived, the connection is
// gone or ctx ends.
func (v *WebRTCViewer) WaitUnits(ctx context.Context, n int) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if got := v.Stats().Units; got >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sim: %d of %d video units: %w", v.Stats().Units, n, ctx.Err())
		case <-v.gone:
			return fmt.Errorf("sim: %d of %d video units: %w", v.Stats().Units, n, ErrViewerGone)
		case <-tick.C:
		}
	}
}
