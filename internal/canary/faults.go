package canary

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Fault kinds, as reported.
const (
	FaultLatency       = "latency+jitter"
	FaultBandwidth     = "bandwidth cap"
	FaultSlicer        = "slicing"
	FaultStall         = "stall+timeout"
	FaultReset         = "connection reset"
	FaultCameraDrop    = "camera drop (storm)"
	FaultCancel        = "viewer cancel+retry"
	FaultCameraRestart = "camera restart, new parameters"
	FaultVigilRestart  = "vigil kill -9 + restart"
)

// Phases of a cycle.
const (
	phaseCalm    = "calm"
	phaseXiaomi  = "poor network"
	phaseWyze    = "reconnect storm"
	phaseRedis   = "cancellations"
	phaseRestart = "camera restarts"
	phaseVigil   = "vigil restart"
)

// schedule recreates the incidents, round after round: calm, a poor
// network (toxics on every proxy), a reconnect storm (every camera dropped
// at once while viewers load thumbnails), cancellations (viewers hang up
// mid-response and retry at once), cameras restarting with new parameters,
// and, every other round, Vigil killed and restarted under load.
type schedule struct {
	cycle   time.Duration
	proxies *proxies
	server  *server
	fleet   *fleet
	rng     *rand.Rand
	log     *slog.Logger

	phase atomic.Pointer[string]
	// world is held for reading by each move of the world (see mover) and
	// for writing while Vigil restarts: a move's outcome is then known.
	world sync.RWMutex
	mu    sync.Mutex
	count map[string]int64 // guarded by mu
}

func (s *schedule) add(kind string, n int64) {
	s.mu.Lock()
	s.count[kind] += n
	s.mu.Unlock()
}

func (s *schedule) counts() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]int64, len(s.count))
	for k, v := range s.count {
		m[k] = v
	}
	return m
}

func (s *schedule) now() string {
	if p := s.phase.Load(); p != nil {
		return *p
	}
	return phaseCalm
}

// cancelRate is the share of visits that hang up mid-response.
func (s *schedule) cancelRate() float64 {
	if s.now() == phaseRedis {
		return 0.5
	}
	return 0.04
}

func (s *schedule) storming() bool { return s.now() == phaseWyze }

// run plays rounds until ctx ends; an error is a failure to inject a fault.
func (s *schedule) run(ctx context.Context) error {
	type step struct {
		name string
		frac float64
		do   func(context.Context, int) error
	}
	steps := []step{
		{phaseCalm, 0.10, nil},
		{phaseXiaomi, 0.30, nil}, // visits take the poor paths (see paths)
		{phaseWyze, 0.15, s.storm},
		{phaseRedis, 0.15, nil},
		{phaseRestart, 0.10, s.restartCameras},
		{phaseVigil, 0.20, s.restartVigil},
	}
	for round := 0; ctx.Err() == nil; round++ {
		for _, st := range steps {
			name := st.name
			s.phase.Store(&name)
			s.log.Info("canary phase", "round", round, "phase", name)
			end := time.Now().Add(time.Duration(st.frac * float64(s.cycle)))
			if st.do != nil {
				if err := st.do(ctx, round); err != nil && ctx.Err() == nil {
					return fmt.Errorf("canary: %s: %w", name, err)
				}
			}
			sleep(ctx, time.Until(end))
			if ctx.Err() != nil {
				return nil
			}
		}
	}
	return nil
}

// paths picks the paths of a visit: during the poor-network phase four
// visits in five take one of the poor paths, counted as a fault of its kind.
func (s *schedule) paths(rng *rand.Rand) (httpBase, rtspHost string) {
	p := s.proxies
	if s.now() != phaseXiaomi || rng.IntN(5) == 0 {
		return "http://" + p.addr(p.http), p.addr(p.rtsp)
	}
	i := rng.IntN(len(p.httpPoor))
	s.add(p.httpPoor[i].kind, 1)
	return "http://" + p.addr(p.httpPoor[i].proxy), p.addr(p.rtspPoor[i].proxy)
}

// storm drops every camera at once and lets them all reconnect together.
func (s *schedule) storm(context.Context, int) error {
	n := s.fleet.publishing()
	for _, x := range s.proxies.cameraPaths() {
		x.Stop()
	}
	s.add(FaultCameraDrop, int64(n))
	time.Sleep(1500 * time.Millisecond)
	for _, x := range s.proxies.cameraPaths() {
		var err error
		for try := 0; try < 25; try++ { // the port may be in TIME_WAIT's hands a moment
			if err = x.Start(); err == nil {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// restartCameras restarts a tenth of the publishing cameras with a new
// picture size and profile.
func (s *schedule) restartCameras(ctx context.Context, _ int) error {
	cams := s.fleet.publishers()
	n := max(1, len(cams)/10)
	for _, i := range s.rng.Perm(len(cams))[:min(n, len(cams))] {
		if !cams[i].busy.TryLock() { // changing hands
			continue
		}
		s.fleet.restart(ctx, cams[i], s.rng)
		cams[i].busy.Unlock()
		s.add(FaultCameraRestart, 1)
	}
	return nil
}

// restartVigil kills Vigil with SIGKILL every other round and starts it again.
func (s *schedule) restartVigil(ctx context.Context, round int) error {
	if round%2 != 0 {
		return nil
	}
	s.world.Lock()
	defer s.world.Unlock()
	s.add(FaultVigilRestart, 1)
	return s.server.Restart(ctx)
}
