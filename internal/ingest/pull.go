package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/pion/rtp"

	"vigil/internal/access"
	"vigil/internal/hub"
)

// PullerConfig is what a Puller is built from.
type PullerConfig struct {
	// Hub is where the camera's media goes. Required.
	Hub    *hub.Hub
	Device access.DeviceID
	Stream access.StreamID
	// Source is the camera's RTSP URL, credentials included. It is never logged.
	Source string
	// MinBackoff defaults to 500 ms, MaxBackoff to 30 s.
	MinBackoff, MaxBackoff time.Duration
	// ReadTimeout defaults to 10 s.
	ReadTimeout time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Puller keeps one pull camera connected: DESCRIBE, SETUP, PLAY, and on any
// failure a reconnect after an exponential backoff with jitter.
type Puller struct {
	cfg PullerConfig
}

// NewPuller returns a puller of cfg's camera, its defaults applied.
func NewPuller(cfg PullerConfig) (*Puller, error) {
	if cfg.Hub == nil {
		return nil, errors.New("ingest: a puller needs a hub")
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 500 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Puller{cfg: cfg}, nil
}

// healthy is how long a session must last for the backoff to start over.
const healthy = 30 * time.Second

// Run pulls until ctx is done.
func (p *Puller) Run(ctx context.Context) error {
	log := p.cfg.Logger.With("camera", p.cfg.Device, "stream", p.cfg.Stream, "source", RedactURL(p.cfg.Source))
	backoff := p.cfg.MinBackoff
	for {
		began := time.Now()
		err := p.once(ctx, log)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(began) > healthy {
			backoff = p.cfg.MinBackoff
		}
		wait := jitter(backoff)
		log.Warn("pull camera disconnected; reconnecting", "error", err, "retry_in", wait.Round(time.Millisecond))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		backoff = min(backoff*2, p.cfg.MaxBackoff)
	}
}

// jitter spreads reconnects of many cameras: a random wait in [d/2, d).
func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d/2+1)
}

func (p *Puller) once(ctx context.Context, log *slog.Logger) error {
	u, err := base.ParseURL(p.cfg.Source)
	if err != nil {
		return fmt.Errorf("source URL: %w", err)
	}
	c := gortsplib.Client{Scheme: u.Scheme, Host: u.Host, ReadTimeout: p.cfg.ReadTimeout}
	if err := c.Start(); err != nil {
		return err
	}
	var closeOnce sync.Once
	stop := func() { closeOnce.Do(c.Close) }
	defer stop()
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			stop()
		case <-done:
		}
	}()

	desc, _, err := c.Describe(u)
	if err != nil {
		return fmt.Errorf("describe: %w", err)
	}
	tracks := TracksOf(desc)
	if len(tracks) == 0 {
		return errors.New("camera offers no supported track (H.264, H.265, AAC, Opus, G.711)")
	}
	var medias []*description.Media
	for _, m := range desc.Medias {
		for _, t := range tracks {
			if slices.Contains(m.Formats, t.Format) {
				medias = append(medias, m)
				break
			}
		}
	}
	if err := c.SetupAll(desc.BaseURL, medias); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	pub, err := p.cfg.Hub.Publish(p.cfg.Device, p.cfg.Stream, tracks)
	if err != nil {
		return err
	}
	defer pub.Close()
	dec, err := NewDecoder(pub)
	if err != nil {
		return err
	}
	c.OnPacketRTPAny(func(m *description.Media, f format.Format, pkt *rtp.Packet) {
		pts, ok := c.PacketPTS(m, pkt)
		if !ok {
			return
		}
		if errors.Is(dec.Packet(f, pkt, pts), hub.ErrReplaced) {
			go stop() // Close waits for this callback's goroutine
		}
	})
	if _, err := c.Play(nil); err != nil {
		return fmt.Errorf("play: %w", err)
	}
	log.Info("pull camera connected", "session", pub.Owner().Session, "tracks", len(tracks))
	return c.Wait()
}

// RedactURL hides the user information of a URL for logs.
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "[unparsable url]"
	}
	if u.User != nil {
		u.User = url.User("***")
	}
	return u.String()
}
