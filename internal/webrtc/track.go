package webrtc

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtplpcm"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtpsimpleaudio"
	"github.com/pion/rtp"
	pion "github.com/pion/webrtc/v4"
	"golang.org/x/time/rate"

	"vigil/internal/media"
)

// payloadMax bounds an RTP payload so that a packet with its header and
// SRTP tag fits the 1280-byte IPv6 minimum MTU with room for tunnels, as
// pion's own packetizers do (1200 bytes of RTP).
const payloadMax = 1200 - 12

// track is one camera track sent to a peer. It is a pion TrackLocal that
// packetizes the camera's units itself (RFC 6184 for H.264, RFC 7587 for
// Opus, RFC 3551 for G.711) straight from their NAL units or frames, with
// RTP timestamps taken from the units' PTS, so the peer plays on the
// camera's clock. Nothing is transcoded, and SEI stamps and in-band
// parameter sets pass through untouched (invariant 7).
type track struct {
	kind  pion.RTPCodecType
	mime  string // lower case, e.g. video/h264
	rate  int64
	base  uint32 // random RTP timestamp origin (RFC 3550 §5.1)
	enc   func(*media.Unit) ([]*rtp.Packet, error)
	bound chan struct{} // closed by the first Bind

	mu   sync.Mutex
	w    pion.TrackLocalWriter // guarded by mu; nil when unbound
	ssrc uint32                // guarded by mu
	pt   uint8                 // guarded by mu
}

var _ pion.TrackLocal = (*track)(nil)

// newTrack returns a track for a camera format WebRTC can carry, or nil.
func newTrack(f format.Format) (*track, error) {
	t := &track{bound: make(chan struct{}), rate: int64(f.ClockRate())}
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	t.base = binary.BigEndian.Uint32(b[:])
	var err error
	switch f := f.(type) {
	case *format.H264:
		t.kind, t.mime = pion.RTPCodecTypeVideo, pion.MimeTypeH264
		e := &rtph264.Encoder{PacketizationMode: 1, PayloadMaxSize: payloadMax}
		err = e.Init()
		t.enc = func(u *media.Unit) ([]*rtp.Packet, error) { return e.Encode(u.Payload) }
	case *format.Opus:
		t.kind, t.mime = pion.RTPCodecTypeAudio, pion.MimeTypeOpus
		e := &rtpsimpleaudio.Encoder{PayloadMaxSize: payloadMax}
		err = e.Init()
		t.enc = func(u *media.Unit) ([]*rtp.Packet, error) {
			p, err := e.Encode(u.Payload[0])
			return []*rtp.Packet{p}, err
		}
	case *format.G711:
		if f.SampleRate != 8000 || f.ChannelCount != 1 {
			return nil, nil // WebRTC's PCMU and PCMA are 8 kHz mono
		}
		t.kind, t.mime = pion.RTPCodecTypeAudio, pion.MimeTypePCMA
		if f.MULaw {
			t.mime = pion.MimeTypePCMU
		}
		e := &rtplpcm.Encoder{BitDepth: 8, ChannelCount: 1, PayloadMaxSize: payloadMax}
		err = e.Init()
		t.enc = func(u *media.Unit) ([]*rtp.Packet, error) { return e.Encode(u.Payload[0]) }
	default:
		return nil, nil
	}
	t.mime = strings.ToLower(t.mime)
	return t, err
}

// codecName is the track's encoding name as offers spell it (lower case).
func (t *track) codecName() string {
	_, name, _ := strings.Cut(t.mime, "/")
	return name
}

// Bind picks the negotiated payload format of the track's codec (for
// H.264 any answered profile: the stream is passed through as the camera
// encoded it) and keeps the writer.
func (t *track) Bind(ctx pion.TrackLocalContext) (pion.RTPCodecParameters, error) {
	for _, c := range ctx.CodecParameters() {
		if strings.ToLower(c.MimeType) != t.mime || int64(c.ClockRate) != t.rate {
			continue
		}
		if t.kind == pion.RTPCodecTypeVideo && !strings.Contains(c.SDPFmtpLine, "packetization-mode=1") {
			continue
		}
		t.mu.Lock()
		t.w, t.ssrc, t.pt = ctx.WriteStream(), uint32(ctx.SSRC()), uint8(c.PayloadType)
		t.mu.Unlock()
		select {
		case <-t.bound:
		default:
			close(t.bound)
		}
		return c, nil
	}
	return pion.RTPCodecParameters{}, fmt.Errorf("webrtc: no negotiated %s payload format", t.mime)
}

// Unbind forgets the writer.
func (t *track) Unbind(pion.TrackLocalContext) error {
	t.mu.Lock()
	t.w = nil
	t.mu.Unlock()
	return nil
}

// ID, RID, StreamID and Kind describe the track in the answer (msid).
func (t *track) ID() string { return t.kind.String() }

// RID is empty: one encoding, no simulcast.
func (t *track) RID() string { return "" }

// StreamID groups the camera's tracks into one MediaStream.
func (t *track) StreamID() string { return "camera" }

// Kind is audio or video.
func (t *track) Kind() pion.RTPCodecType { return t.kind }

// write packetizes u and writes its packets at pace; it returns the RTP
// bytes (header and payload) written. Before the peer's SRTP keys are agreed pion
// drops packets and reports nothing written.
func (t *track) write(ctx context.Context, u *media.Unit, pace *rate.Limiter) (int, error) {
	if len(u.Payload) == 0 || slices.ContainsFunc(u.Payload, func(p []byte) bool { return len(p) == 0 }) {
		return 0, nil // the encoders cannot packetize an empty NAL unit or frame
	}
	pkts, err := t.enc(u)
	if err != nil {
		return 0, fmt.Errorf("webrtc: packetize %s unit %d: %w", t.mime, u.Seq, err)
	}
	t.mu.Lock()
	w, ssrc, pt := t.w, t.ssrc, t.pt
	t.mu.Unlock()
	if w == nil {
		return 0, nil
	}
	ts := t.base + uint32(media.DurationToClock(u.PTS, t.rate))
	total := 0
	for _, p := range pkts {
		if err := pace.WaitN(ctx, p.MarshalSize()); err != nil {
			return total, err
		}
		// Encoders give timestamps relative to the unit (G.711 packets of
		// one unit follow each other; the others are all zero).
		p.Timestamp += ts
		p.SSRC, p.PayloadType = ssrc, pt
		n, err := w.WriteRTP(&p.Header, p.Payload)
		if err != nil {
			return total, fmt.Errorf("webrtc: write %s: %w", t.mime, err)
		}
		if n > 0 {
			total += p.Header.MarshalSize() + len(p.Payload)
		}
	}
	return total, nil
}
