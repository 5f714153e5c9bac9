package webrtc

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/pion/rtp"
	pion "github.com/pion/webrtc/v4"
	"golang.org/x/time/rate"

	"vigil/internal/media"
)

// track is one camera track sent to a peer. It is a pion TrackLocal that
// writes the camera's units as RTP itself, from the server's shared
// packetizer, with RTP timestamps taken from the units' PTS, so the peer
// plays on the camera's clock. Nothing is transcoded, and SEI stamps and
// in-band parameter sets pass through untouched (invariant 7).
type track struct {
	kind  pion.RTPCodecType
	mime  string // lower case, e.g. video/h264
	codec codec
	rate  int64
	base  uint32 // random RTP timestamp origin (RFC 3550 §5.1)
	seq   uint16 // next sequence number; only the session's goroutine writes
	// profile is the camera's H.264 profile_idc and constraint flags in
	// hex ("640c"), when its SPS told them; "" otherwise.
	profile string
	// carriers are the offered H.264 profile-level-ids whose decoders
	// decode the camera's video (set for video by pick).
	carriers []string

	mu    sync.Mutex
	w     pion.TrackLocalWriter // guarded by mu; nil when unbound
	ssrc  uint32                // guarded by mu
	pt    uint8                 // guarded by mu
	bound string                // guarded by mu; the negotiated fmtp line
}

var _ pion.TrackLocal = (*track)(nil)

// newTrack returns a track for a camera format WebRTC can carry, or nil.
func newTrack(f format.Format) (*track, error) {
	t := &track{rate: int64(f.ClockRate())}
	switch f := f.(type) {
	case *format.H264:
		t.kind, t.mime, t.codec = pion.RTPCodecTypeVideo, pion.MimeTypeH264, codecH264
	case *format.Opus:
		t.kind, t.mime, t.codec = pion.RTPCodecTypeAudio, pion.MimeTypeOpus, codecOpus
	case *format.G711:
		if f.SampleRate != 8000 || f.ChannelCount != 1 {
			return nil, nil // WebRTC's PCMU and PCMA are 8 kHz mono
		}
		t.kind, t.mime, t.codec = pion.RTPCodecTypeAudio, pion.MimeTypePCMA, codecG711
		if f.MULaw {
			t.mime = pion.MimeTypePCMU
		}
	default:
		return nil, nil
	}
	t.mime = strings.ToLower(t.mime)
	var b [6]byte // RFC 3550 §5.1: random timestamp and sequence origins
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	t.base, t.seq = binary.BigEndian.Uint32(b[:4]), binary.BigEndian.Uint16(b[4:])
	return t, nil
}

// codecName is the track's encoding name as offers spell it (lower case).
func (t *track) codecName() string {
	_, name, _ := strings.Cut(t.mime, "/")
	return name
}

// Bind picks the negotiated payload format of the track's codec and keeps
// the writer. For H.264 it takes only a profile whose decoder decodes the
// camera's (the stream is passed through as the camera encoded it),
// preferring the camera's own.
func (t *track) Bind(ctx pion.TrackLocalContext) (pion.RTPCodecParameters, error) {
	var pick *pion.RTPCodecParameters
	for _, c := range ctx.CodecParameters() {
		if strings.ToLower(c.MimeType) != t.mime || int64(c.ClockRate) != t.rate ||
			t.kind == pion.RTPCodecTypeVideo && !strings.Contains(c.SDPFmtpLine, "packetization-mode=1") {
			continue
		}
		if t.kind == pion.RTPCodecTypeVideo && !slices.ContainsFunc(t.carriers, func(p string) bool { return sameProfile(c.SDPFmtpLine, p) }) {
			continue
		}
		if pick == nil || t.profile != "" && strings.Contains(strings.ToLower(c.SDPFmtpLine), "profile-level-id="+t.profile) {
			pick = &c
		}
	}
	if pick == nil {
		return pion.RTPCodecParameters{}, fmt.Errorf("webrtc: no negotiated %s payload format", t.mime)
	}
	t.mu.Lock()
	t.w, t.ssrc, t.pt, t.bound = ctx.WriteStream(), uint32(ctx.SSRC()), uint8(pick.PayloadType), pick.SDPFmtpLine
	t.mu.Unlock()
	return *pick, nil
}

// boundProfile is the negotiated H.264 profile-level-id ("42e01f"), or
// "" before Bind.
func (t *track) boundProfile() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	const key = "profile-level-id="
	i := strings.Index(strings.ToLower(t.bound), key)
	if i < 0 || len(t.bound) < i+len(key)+6 {
		return ""
	}
	return strings.ToLower(t.bound[i+len(key) : i+len(key)+6])
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

// write writes u's packets at pace, each with a header of the session's
// own, timed at pts (u's PTS on the session's clock, which runs on across
// switches of stream); it returns the RTP bytes (header and payload)
// written. Before the peer's SRTP keys are agreed pion drops packets and
// reports nothing written.
func (t *track) write(ctx context.Context, u *media.Unit, pts time.Duration, pk *packetizer, pace *rate.Limiter) (int, error) {
	pkts, err := pk.get(u, t.codec)
	if err != nil {
		return 0, err
	}
	t.mu.Lock()
	w, ssrc, pt := t.w, t.ssrc, t.pt
	t.mu.Unlock()
	if w == nil {
		return 0, nil
	}
	ts := t.base + uint32(media.DurationToClock(pts, t.rate))
	total := 0
	for _, p := range pkts {
		if err := pace.WaitN(ctx, p.MarshalSize()); err != nil {
			return total, err
		}
		// A header of its own for every packet: the NACK responder keeps
		// it, with the shared payload, for retransmissions.
		h := &rtp.Header{Version: 2, Marker: p.Marker, PayloadType: pt, SequenceNumber: t.seq,
			// Encoders give timestamps relative to the unit (G.711
			// packets of one unit follow each other; the others are 0).
			Timestamp: ts + p.Timestamp, SSRC: ssrc}
		t.seq++
		n, err := w.WriteRTP(h, p.Payload)
		if err != nil {
			return total, fmt.Errorf("webrtc: write %s: %w", t.mime, err)
		}
		if n > 0 {
			total += h.MarshalSize() + len(p.Payload)
		}
	}
	return total, nil
}
