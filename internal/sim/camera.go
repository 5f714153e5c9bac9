package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtplpcm"
	"github.com/pion/rtp"
)

// Reconnect backoff bounds.
const (
	backoffMin = 100 * time.Millisecond
	backoffMax = 5 * time.Second
	// backoffReset is how long a session must have recorded for the next
	// reconnect to start again from backoffMin.
	backoffReset = 5 * time.Second
)

// Camera is a simulated camera that publishes H.264 video, every access unit
// stamped, to an RTSP server with ANNOUNCE/RECORD. Set the fields, then call
// Run; the fields must not change while Run runs.
type Camera struct {
	// URL is where to publish: rtsp://user:pass@host:port/path.
	URL string
	// ID is the camera id written into the stamps.
	ID string
	// Label, if set, is drawn into the generated picture instead of ID (its
	// block code is CodeFor(Label)): a viewer can tell pictures of one
	// camera apart by when they were made, as the leak canary does across
	// a change of owner. The stamps carry ID either way.
	Label string
	// Key is the stamp key (see CameraKey).
	Key []byte
	// Width and Height of the synthetic picture. They default to 320 × 240.
	Width, Height int
	// FPS is the frame rate, for the generator and the clip alike.
	// It defaults to 15.
	FPS int
	// GOP is the keyframe interval of the generator, in frames.
	// It defaults to 2*FPS.
	GOP int
	// Main declares the generated stream H.264 Main profile rather than
	// Constrained Baseline.
	Main bool
	// Audio adds a G.711 µ-law track of silence.
	Audio bool
	// UDP publishes with RTP over UDP; the default is RTP interleaved in the
	// RTSP TCP connection.
	UDP bool
	// Clip, if set, is published in a loop instead of the generated picture
	// (DrawPicture of ID). It must start with an IDR unit (LoadClip makes
	// sure); Width, Height and GOP are then ignored.
	Clip []ClipUnit
	// Logger defaults to discarding.
	Logger *slog.Logger

	seq        atomic.Uint64 // last stamp seq, kept across reconnects
	frames     atomic.Uint64
	reconnects atomic.Uint64
	sessions   atomic.Uint64 // sessions that reached RECORD
}

// FramesSent returns the number of video access units written so far.
func (c *Camera) FramesSent() uint64 { return c.frames.Load() }

// Reconnects returns how many times a session failed and was retried.
func (c *Camera) Reconnects() uint64 { return c.reconnects.Load() }

// Sessions returns the number of sessions that reached RECORD.
func (c *Camera) Sessions() uint64 { return c.sessions.Load() }

// LastSeq returns the sequence number of the last stamp written.
func (c *Camera) LastSeq() uint64 { return c.seq.Load() }

// source yields access units without stamps.
type source interface {
	next() (nalus [][]byte, key bool)
	params() (sps, pps []byte)
	restart()
	maxUnitBytes() int
}

// writeQueueSize returns a gortsplib write queue length (a power of two)
// that holds the packets of the source's largest access unit twice over:
// the queue does not block, and a full queue fails the session.
func writeQueueSize(src source) int {
	pkts := 2*src.maxUnitBytes()/1000 + 64
	n := 256
	for n < pkts {
		n *= 2
	}
	return n
}

type genSource struct{ g *Generator }

func (s genSource) next() ([][]byte, bool)   { return s.g.Next() }
func (s genSource) params() ([]byte, []byte) { return s.g.SPS(), s.g.PPS() }
func (s genSource) restart()                 { s.g.ForceKey() }
func (s genSource) maxUnitBytes() int {
	return s.g.mbW*s.g.mbH*(384+2) + 1024
}

type clipSource struct {
	units []ClipUnit
	i     int
}

func (s *clipSource) next() ([][]byte, bool) {
	u := s.units[s.i]
	s.i = (s.i + 1) % len(s.units)
	return u.NALUs, u.Key
}
func (s *clipSource) params() ([]byte, []byte) { return clipParams(s.units) }
func (s *clipSource) restart()                 { s.i = 0 }
func (s *clipSource) maxUnitBytes() int {
	m := 0
	for _, u := range s.units {
		n := 0
		for _, nalu := range u.NALUs {
			n += len(nalu)
		}
		m = max(m, n)
	}
	return m
}

var (
	_ source = genSource{}
	_ source = (*clipSource)(nil)
)

func (c *Camera) newSource() (source, int, error) {
	fps := c.FPS
	if fps == 0 {
		fps = 15
	}
	if len(c.Clip) > 0 {
		if !c.Clip[0].Key {
			return nil, 0, errors.New("clip does not start with an IDR unit")
		}
		return &clipSource{units: c.Clip}, fps, nil
	}
	w, h, gop := c.Width, c.Height, c.GOP
	if w == 0 {
		w = 320
	}
	if h == 0 {
		h = 240
	}
	if gop == 0 {
		gop = 2 * fps
	}
	label := c.Label
	if label == "" {
		label = c.ID
	}
	g, err := NewGenerator(w, h, fps, gop, DrawPicture(label, w, h))
	if err != nil {
		return nil, 0, err
	}
	if c.Main {
		g.SetMainProfile()
	}
	return genSource{g}, fps, nil
}

// Run publishes until ctx is done, reconnecting after any failure with
// exponential backoff and jitter (capped at 5 s). It returns nil when ctx is
// done, and an error only if the camera is misconfigured.
func (c *Camera) Run(ctx context.Context) error {
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("camera", c.ID)
	if c.ID == "" || len(c.ID) > maxCameraLen {
		return fmt.Errorf("sim: camera id %q: must be 1..%d bytes", c.ID, maxCameraLen)
	}
	if _, err := base.ParseURL(c.URL); err != nil {
		return fmt.Errorf("sim: camera %s: url: %w", c.ID, err)
	}
	src, fps, err := c.newSource()
	if err != nil {
		return fmt.Errorf("sim: camera %s: %w", c.ID, err)
	}
	backoff := backoffMin
	for {
		start := time.Now()
		err := c.session(ctx, log, src, fps)
		if ctx.Err() != nil {
			return nil
		}
		c.reconnects.Add(1)
		if time.Since(start) > backoffReset {
			backoff = backoffMin
		}
		// Jitter in [backoff/2, backoff) spreads reconnect storms.
		wait := backoff/2 + rand.N(backoff/2)
		log.Warn("publish failed, reconnecting", "error", err, "wait", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		backoff = min(2*backoff, backoffMax)
		src.restart()
	}
}

// session runs one RTSP publishing session until it fails or ctx is done.
func (c *Camera) session(ctx context.Context, log *slog.Logger, src source, fps int) error {
	sps, pps := src.params()
	video := &format.H264{PayloadTyp: 96, PacketizationMode: 1, SPS: sps, PPS: pps}
	desc := &description.Session{Medias: []*description.Media{{
		Type: description.MediaTypeVideo, Formats: []format.Format{video},
	}}}
	var audio *format.G711
	if c.Audio {
		audio = &format.G711{PayloadTyp: 0, MULaw: true, SampleRate: 8000, ChannelCount: 1}
		desc.Medias = append(desc.Medias, &description.Media{
			Type: description.MediaTypeAudio, Formats: []format.Format{audio},
		})
	}
	u, err := base.ParseURL(c.URL)
	if err != nil {
		return err
	}
	proto := gortsplib.ProtocolTCP
	if c.UDP {
		proto = gortsplib.ProtocolUDP
	}
	client := &gortsplib.Client{
		Scheme:            u.Scheme,
		Host:              u.Host,
		Protocol:          &proto,
		ReadTimeout:       5 * time.Second,
		WriteQueueSize:    writeQueueSize(src),
		WriteTimeout:      5 * time.Second,
		OnTransportSwitch: func(err error) { log.Info("transport switch", "error", err) },
		OnPacketsLost:     func(n uint64) { log.Debug("packets lost", "count", n) },
		OnDecodeError:     func(err error) { log.Debug("decode error", "error", err) },
	}
	if err := client.Start(); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	// Close unblocks the handshake below and the writes if ctx ends.
	var closeOnce sync.Once
	closeClient := func() { closeOnce.Do(client.Close) }
	defer closeClient()
	stop := context.AfterFunc(ctx, closeClient)
	defer stop()

	if _, err := client.Announce(u, desc); err != nil {
		return fmt.Errorf("announce: %w", err)
	}
	if err := client.SetupAll(u, desc.Medias); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	if _, err := client.Record(); err != nil {
		return fmt.Errorf("record: %w", err)
	}
	c.sessions.Add(1)
	log.Info("recording", "url", redactURL(u), "udp", c.UDP, "audio", c.Audio)

	w, err := newWriter(client, desc, video, audio)
	if err != nil {
		return err
	}
	failed := make(chan error, 1)
	go func() { failed <- client.Wait() }()

	frameDur := time.Second / time.Duration(fps)
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-failed:
			return fmt.Errorf("session: %w", err)
		case <-timer.C:
		}
		nalus, _ := src.next()
		stamp := StampNALU(c.Key, Stamp{Camera: c.ID, Seq: c.seq.Add(1), Time: time.Now()})
		pts := int64(n) * 90000 / int64(fps)
		if err := w.video(withStamp(nalus, stamp), pts); err != nil {
			return err
		}
		c.frames.Add(1)
		if audio != nil {
			if err := w.silence(int64(n)*8000/int64(fps), int64(n+1)*8000/int64(fps)); err != nil {
				return err
			}
		}
		next := start.Add(time.Duration(n+1) * frameDur)
		if late := time.Since(next); late > time.Second {
			// Stalled (a slow machine or a full socket): carry on from now
			// rather than bursting the backlog.
			start = start.Add(late)
			next = next.Add(late)
		}
		timer.Reset(time.Until(next))
	}
}

// withStamp returns the access unit with the stamp as its first NAL unit,
// after an access unit delimiter if there is one (§7.4.1.2.3 wants the AUD
// first).
func withStamp(nalus [][]byte, stamp []byte) [][]byte {
	out := make([][]byte, 0, len(nalus)+1)
	if len(nalus) > 0 && naluType(nalus[0]) == naluAUD {
		out = append(out, nalus[0])
		nalus = nalus[1:]
	}
	out = append(out, stamp)
	return append(out, nalus...)
}

// writer packetizes access units for one session.
type writer struct {
	client     *gortsplib.Client
	vmedia     *description.Media
	amedia     *description.Media
	venc       *rtph264.Encoder
	aenc       *rtplpcm.Encoder
	vts0, ats0 uint32
	silenceBuf []byte
}

func newWriter(client *gortsplib.Client, desc *description.Session, video *format.H264, audio *format.G711) (*writer, error) {
	w := &writer{client: client, vmedia: desc.Medias[0], vts0: rand.Uint32()}
	var err error
	if w.venc, err = video.CreateEncoder(); err != nil {
		return nil, fmt.Errorf("h264 encoder: %w", err)
	}
	if audio != nil {
		w.amedia = desc.Medias[1]
		w.ats0 = rand.Uint32()
		if w.aenc, err = audio.CreateEncoder(); err != nil {
			return nil, fmt.Errorf("g711 encoder: %w", err)
		}
	}
	return w, nil
}

func (w *writer) video(au [][]byte, pts int64) error {
	pkts, err := w.venc.Encode(au)
	if err != nil {
		return fmt.Errorf("packetize h264: %w", err)
	}
	return w.write(w.vmedia, pkts, w.vts0+uint32(pts))
}

// silence writes µ-law silence (0xFF) for samples [from, to) of the 8 kHz clock.
func (w *writer) silence(from, to int64) error {
	n := int(to - from)
	if n <= 0 {
		return nil
	}
	if len(w.silenceBuf) < n {
		w.silenceBuf = make([]byte, n)
		fill(w.silenceBuf, 0xff)
	}
	pkts, err := w.aenc.Encode(w.silenceBuf[:n])
	if err != nil {
		return fmt.Errorf("packetize g711: %w", err)
	}
	return w.write(w.amedia, pkts, w.ats0+uint32(from))
}

func (w *writer) write(m *description.Media, pkts []*rtp.Packet, ts uint32) error {
	for _, p := range pkts {
		p.Timestamp += ts
		if err := w.client.WritePacketRTP(m, p); err != nil {
			return fmt.Errorf("write rtp: %w", err)
		}
	}
	return nil
}

// redactURL returns u without its password, for logs.
func redactURL(u *base.URL) string {
	v := *u
	if v.User != nil {
		v.User = nil
	}
	return v.String()
}

// RunMany runs cams until ctx is done and returns their configuration
// errors, if any.
func RunMany(ctx context.Context, cams []*Camera) error {
	errs := make([]error, len(cams))
	var wg sync.WaitGroup
	for i, cam := range cams {
		wg.Go(func() { errs[i] = cam.Run(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}
