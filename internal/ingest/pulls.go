package ingest

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"vigil/internal/access"
	"vigil/internal/hub"
)

// PullsConfig is what Pulls is built from.
type PullsConfig struct {
	// Hub is where the cameras' media goes. Required.
	Hub *hub.Hub
	// Sources lists pull cameras and their source URLs. Required.
	Sources func(ctx context.Context) (map[access.DeviceID]string, error)
	// Refresh is how often Sources is read again. It defaults to 10 s.
	Refresh time.Duration
	// ReadTimeout is handed to each Puller (which defaults it).
	ReadTimeout time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Pulls keeps a Puller running for every pull camera the store knows,
// starting and stopping them as cameras are added, changed or removed.
type Pulls struct {
	cfg PullsConfig
}

// NewPulls returns the pull cameras' keeper, cfg's defaults applied.
func NewPulls(cfg PullsConfig) (*Pulls, error) {
	if cfg.Hub == nil || cfg.Sources == nil {
		return nil, errors.New("ingest: pulls need a hub and a list of sources")
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Pulls{cfg: cfg}, nil
}

type running struct {
	source string
	cancel context.CancelFunc
}

// Run manages pullers until ctx is done.
func (p *Pulls) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	live := map[access.DeviceID]running{}
	t := time.NewTicker(p.cfg.Refresh)
	defer t.Stop()
	for {
		sources, err := p.cfg.Sources(ctx)
		if err != nil {
			p.cfg.Logger.Warn("listing pull cameras failed; keeping the running ones", "error", err)
		} else {
			p.sync(ctx, &wg, live, sources)
		}
		select {
		case <-ctx.Done():
			for _, r := range live {
				r.cancel()
			}
			return nil
		case <-t.C:
		}
	}
}

func (p *Pulls) sync(ctx context.Context, wg *sync.WaitGroup, live map[access.DeviceID]running, sources map[access.DeviceID]string) {
	for id, r := range live {
		if sources[id] != r.source {
			r.cancel()
			delete(live, id)
		}
	}
	for id, src := range sources {
		if _, ok := live[id]; ok {
			continue
		}
		pl, err := NewPuller(PullerConfig{Hub: p.cfg.Hub, Device: id, Stream: access.StreamMain, Source: src,
			ReadTimeout: p.cfg.ReadTimeout, Logger: p.cfg.Logger})
		if err != nil {
			p.cfg.Logger.Error("pull camera not started", "camera", id, "error", err)
			continue
		}
		cctx, cancel := context.WithCancel(ctx)
		live[id] = running{source: src, cancel: cancel}
		wg.Add(1)
		go func() {
			defer wg.Done()
			pl.Run(cctx)
		}()
	}
}
