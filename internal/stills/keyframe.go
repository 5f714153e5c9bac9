package stills

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"vigil/internal/access"
	"vigil/internal/hub"
	"vigil/internal/media"
)

// keyframe is the live stream's latest keyframe, as the hub handed it over
// after its own egress check.
type keyframe struct {
	unit     *media.Unit
	codec    string   // ffmpeg's demuxer name: h264 or hevc
	params   [][]byte // the track's parameter sets, for a keyframe without them
	captured time.Time
	// since is the grant's epoch: an older still is not the viewer's.
	since time.Time
	// latest reports whether the unit is still the stream's latest
	// keyframe (see decodeFunc).
	latest func() bool
}

// keyframe returns the grant's device's latest keyframe, or nil when there
// is none to decode (offline, no keyframe yet, not H.264/H.265). Errors are
// the grant's: the caller returns them.
func (s *Service) keyframe(g access.Grant, stream access.StreamID) (*keyframe, error) {
	if !s.cfg.Hub.Online(g.Device(), stream) {
		return nil, nil
	}
	hk, err := s.cfg.Hub.Keyframe(g, stream)
	u, tracks := hk.Unit, hk.Tracks
	if errors.Is(err, hub.ErrOffline) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("stills: %w", err)
	}
	if u.Track < 0 || u.Track >= len(tracks) {
		return nil, nil
	}
	kf := &keyframe{unit: u, captured: hk.Captured, since: g.Epoch(), latest: func() bool {
		now, err := s.cfg.Hub.Keyframe(g, stream)
		return err == nil && now.Unit.Owner() == u.Owner() && now.Unit.Seq == u.Seq
	}}
	switch f := tracks[u.Track].Format.(type) {
	case *format.H264:
		kf.codec, kf.params = "h264", [][]byte{f.SPS, f.PPS}
	case *format.H265:
		kf.codec, kf.params = "hevc", [][]byte{f.VPS, f.SPS, f.PPS}
	default:
		return nil, nil
	}
	return kf, nil
}

// freshWait is how long a request waits for a new keyframe's decode when
// the stream's previous still can be shown instead. Beyond it the request
// gets the previous still (no older than the grant's epoch, young enough
// for maxAge) and the decode runs on to be cached for the next request:
// with every worker busy, a viewer is not kept waiting seconds for a
// picture one keyframe newer than one at hand (a 200-camera canary's still
// and MJPEG visits mostly timed out in the decode queue).
const freshWait = 300 * time.Millisecond

// keyframeStill returns the keyframe decoded at width: from the cache, or
// decoded once however many ask at the same time. Requests that arrive while
// another request's decode of a new keyframe runs get the stream's previous
// keyframe still at once instead, when it is young enough for maxAge (zero:
// any age); the first request after a keyframe waits for the fresh picture
// up to freshWait, then gets the previous one too.
// The decode takes a worker in user's turn.
func (s *Service) keyframeStill(ctx context.Context, user access.UserID, kf *keyframe, width int, maxAge time.Duration) (*frame, error) {
	o := kf.unit.Owner()
	key := stillKey{device: o.Device, stream: o.Stream, source: fromKeyframe, session: o.Session, seq: kf.unit.Seq, width: width}
	if f := s.cache.get(key); f != nil {
		return f, nil
	}
	prev := s.previous(ctx, user, kf, width, maxAge)
	if prev == nil {
		return s.flights.do(ctx, flightKey(key), s.cfg.DecodeTimeout, false, s.decodeFunc(user, kf, key))
	}
	if s.flights.busy(flightKey(key)) {
		return prev, nil
	}
	wctx, cancel := context.WithTimeout(ctx, freshWait)
	defer cancel()
	f, err := s.flights.do(wctx, flightKey(key), s.cfg.DecodeTimeout, true, s.decodeFunc(user, kf, key))
	if err != nil && ctx.Err() == nil {
		return prev, nil // the decode runs on (or failed): the previous still
	}
	return f, err
}

// previous is the stream's newest still decoded before kf at width, or
// else its newest at full size scaled to width (a camera's card asked for
// at a width nobody asked for since its last keyframe: a scaling, not a
// wait for a decode), if it is in the grant's epoch and young enough for
// maxAge; nil if there is none.
func (s *Service) previous(ctx context.Context, user access.UserID, kf *keyframe, width int, maxAge time.Duration) *frame {
	o := kf.unit.Owner()
	usable := func(f *frame) bool {
		return f != nil && !f.captured.Before(kf.since) && (maxAge == 0 || time.Since(f.captured) <= maxAge)
	}
	s.mu.Lock()
	prev := s.decoded[prevKey(decodedKey{o.Device, o.Stream, width})]
	full := s.decoded[prevKey(decodedKey{o.Device, o.Stream, 0})]
	s.mu.Unlock()
	if usable(prev) {
		return prev
	}
	if width == 0 || !usable(full) || !full.captured.Before(kf.captured) {
		return nil // none, or kf's own: scaled at once on the way to a fresh still
	}
	if cfg, err := checkJPEG(full.jpeg); err != nil || cfg.Width*cfg.Height > smallPicture {
		return nil // its scaling would wait for a worker too
	}
	f, err := s.scaled(ctx, user, full, width)
	if err != nil {
		return nil
	}
	s.noteDecoded(prevKey(decodedKey{o.Device, o.Stream, width}), f)
	return f
}

// noteDecoded makes f the newest still decoded under dk, unless one
// captured later is there.
func (s *Service) noteDecoded(dk decodedKey, f *frame) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.decoded[dk]; old == nil || f.captured.After(old.captured) {
		s.decoded[dk] = f
	}
}

// decodeFunc makes kf's still at key's width once; the result is cached
// under key and becomes the stream's newest decoded still. ffmpeg decodes
// the keyframe once, at its own size; a smaller width is that picture
// scaled (see scaled), so a keyframe asked for at several widths costs one
// ffmpeg run, not one per width. A decode that nobody waits for any more (a
// viewer was shown the previous still) and whose keyframe a newer one has
// replaced while it waited for a worker is dropped: the next request wants
// the newer one, and with every worker busy, decoding keyframes already
// replaced would keep the queue behind the cameras for good.
func (s *Service) decodeFunc(user access.UserID, kf *keyframe, key stillKey) func(context.Context) (*frame, error) {
	o := kf.unit.Owner()
	return func(ctx context.Context) (*frame, error) {
		if f := s.cache.get(key); f != nil {
			return f, nil // a call that ended just before this one began
		}
		var f *frame
		if key.width > 0 {
			full := key
			full.width = 0
			orig, err := s.flights.do(context.WithValue(ctx, nestedCall{}, true), flightKey(full), s.cfg.DecodeTimeout, false,
				s.decodeFunc(user, kf, full))
			if err != nil {
				return nil, err
			}
			if f, err = s.scaled(ctx, user, orig, key.width); err != nil {
				return nil, err
			}
		} else {
			if err := s.acquire(ctx, user); err != nil {
				return nil, err
			}
			if !s.wanted(key) && !kf.latest() {
				s.release()
				return nil, fmt.Errorf("%w: camera %s stream %s: a newer keyframe replaced it", ErrDecode, o.Device, o.Stream)
			}
			jpg, err := s.decode(ctx, kf)
			s.release()
			if err == nil && ctx.Err() != nil {
				err = context.Cause(ctx)
			}
			if err != nil {
				// Invariant 6: whatever a cancelled or failed decode
				// produced is dropped here, never cached.
				return nil, fmt.Errorf("%w: camera %s stream %s: %v", ErrDecode, o.Device, o.Stream, err)
			}
			cfg, err := checkJPEG(jpg)
			if err != nil {
				return nil, fmt.Errorf("%w: ffmpeg output: %v", ErrDecode, err)
			}
			f = &frame{jpeg: jpg, device: o.Device, stream: o.Stream, captured: kf.captured, source: SourceKeyframe, width: cfg.Width}
		}
		s.cache.put(key, f)
		s.noteDecoded(prevKey(decodedKey{o.Device, o.Stream, key.width}), f)
		return f, nil
	}
}

// wanted reports whether a request waits for key's keyframe at any width.
func (s *Service) wanted(key stillKey) bool {
	keys := make([]stillKey, 0, 1+len(Widths))
	for _, w := range append([]int{0}, Widths[:]...) {
		k := key
		k.width = w
		keys = append(keys, flightKey(k))
	}
	return s.flights.waiting(keys...)
}

// maxFFmpegOutput bounds what one decode may write: far above any JPEG of
// a 4K picture at -q:v 4.
const maxFFmpegOutput = 32 << 20

// decode runs ffmpeg on the keyframe, in Annex-B, and returns one JPEG of
// its own size.
func (s *Service) decode(ctx context.Context, kf *keyframe) ([]byte, error) {
	args := []string{"-nostdin", "-hide_banner", "-v", "error",
		"-f", kf.codec, "-i", "pipe:0", "-frames:v", "1",
		"-vf", "format=yuvj420p", "-f", "image2", "-c:v", "mjpeg", "-q:v", "4", "pipe:1"}

	cmd := exec.CommandContext(ctx, s.cfg.FFmpeg, args...)
	cmd.Stdin = bytes.NewReader(annexB(kf.codec, kf.unit.Payload, kf.params))
	var stdout, stderr limitedBuffer
	stdout.max, stderr.max = maxFFmpegOutput, 4<<10
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second // a killed ffmpeg's pipes must not hold us
	s.ffmpegRuns.Add(1)
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("ffmpeg: %w: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	if stdout.overflow {
		return nil, fmt.Errorf("ffmpeg wrote more than %d bytes", maxFFmpegOutput)
	}
	return stdout.Bytes(), nil
}

// annexB frames a keyframe's NAL units with start codes, preceded by the
// track's parameter sets when the keyframe does not carry its own.
func annexB(codec string, nalus, params [][]byte) []byte {
	startCode := []byte{0, 0, 0, 1}
	var b []byte
	if !hasSPS(codec, nalus) {
		for _, p := range params {
			if len(p) > 0 {
				b = append(append(b, startCode...), p...)
			}
		}
	}
	for _, n := range nalus {
		if len(n) > 0 {
			b = append(append(b, startCode...), n...)
		}
	}
	return b
}

func hasSPS(codec string, nalus [][]byte) bool {
	for _, n := range nalus {
		if len(n) == 0 {
			continue
		}
		if codec == "h264" && n[0]&0x1f == 7 { // H.264 §7.4.1: nal_unit_type 7
			return true
		}
		if codec == "hevc" && (n[0]>>1)&0x3f == 33 { // H.265 §7.4.2.2: SPS_NUT
			return true
		}
	}
	return false
}

// limitedBuffer keeps the first max bytes written to it and notes overflow,
// without failing the writer (so ffmpeg is not killed by EPIPE mid-error).
type limitedBuffer struct {
	bytes.Buffer
	max      int
	overflow bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if room := b.max - b.Len(); len(p) > room {
		b.overflow = true
		p = p[:max(room, 0)]
	}
	b.Buffer.Write(p)
	return n, nil
}

// lastDecoded is the newest still decoded of the grant's stream in its
// epoch, at req's width if there is one, else at any width: what an offline
// camera's card shows. Handover drops these with the epoch.
func (s *Service) lastDecoded(g access.Grant, req Request) *frame {
	s.mu.Lock()
	defer s.mu.Unlock()
	var best *frame
	for _, w := range append([]int{req.Width, 0}, Widths[:]...) {
		f := s.decoded[decodedKey{g.Device(), req.Stream, w}]
		if f == nil || f.captured.Before(g.Epoch()) {
			continue
		}
		if w == req.Width {
			return f
		}
		if best == nil || f.captured.After(best.captured) {
			best = f
		}
	}
	return best
}
