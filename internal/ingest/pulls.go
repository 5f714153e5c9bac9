package ingest

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"vigil/internal/access"
	"vigil/internal/hub"
)

// Pulls keeps a Puller running for every pull camera the store knows,
// starting and stopping them as cameras are added, changed or removed.
type Pulls struct {
	Hub *hub.Hub
	// Sources lists pull cameras and their source URLs.
	Sources func(ctx context.Context) (map[access.DeviceID]string, error)
	// Refresh is how often Sources is read again. It defaults to 10 s.
	Refresh time.Duration
	// ReadTimeout is handed to each Puller.
	ReadTimeout time.Duration
	Logger      *slog.Logger
}

type running struct {
	source string
	cancel context.CancelFunc
}

// Run manages pullers until ctx is done.
func (p *Pulls) Run(ctx context.Context) error {
	if p.Refresh <= 0 {
		p.Refresh = 10 * time.Second
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	live := map[access.DeviceID]running{}
	t := time.NewTicker(p.Refresh)
	defer t.Stop()
	for {
		sources, err := p.Sources(ctx)
		if err != nil {
			p.Logger.Warn("listing pull cameras failed; keeping the running ones", "error", err)
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
		cctx, cancel := context.WithCancel(ctx)
		live[id] = running{source: src, cancel: cancel}
		pl := &Puller{Hub: p.Hub, Device: id, Stream: access.StreamMain, Source: src,
			ReadTimeout: p.ReadTimeout, Logger: p.Logger}
		wg.Add(1)
		go func() {
			defer wg.Done()
			pl.Run(cctx)
		}()
	}
}
