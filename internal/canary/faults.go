package canary

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Shopify/toxiproxy/v2"
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
	// The cluster's (Config.Nodes > 1).
	FaultNodeKill = "node kill -9 + restart"
	FaultRouteCut = "NATS routes cut"
	// FaultRouteBypass counts route connections a cut left standing
	// (must stay 0: each node advertises its route proxy).
	FaultRouteBypass = "route connections left standing by a cut"
)

// Phases of a cycle.
const (
	phaseCalm    = "calm"
	phaseXiaomi  = "poor network"
	phaseWyze    = "reconnect storm"
	phaseRedis   = "cancellations"
	phaseRestart = "camera restarts"
	phaseVigil   = "vigil restart"
	phaseRoutes  = "routes cut"
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
	check   *checker // for what the schedule itself sees (see linger)
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
	if len(s.server.nodes) > 1 {
		// A cluster: cameras whose old connections linger while they
		// connect again (while viewers cancel: no camera fault ends a
		// session then, and the routes were cut half a round before),
		// a node killed every round (the cameras it homed reconnect
		// to the others through the balancer), and the NATS routes
		// cut, taken from the poor network's time.
		steps[3].do, steps[1].frac, steps[5].do = s.lingerCameras, 0.20, s.killNode
		steps = append(steps, step{phaseRoutes, 0.10, s.cutRoutes})
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
	p, v := s.proxies, s.node(rng)
	if s.now() != phaseXiaomi || rng.IntN(5) == 0 {
		return "http://" + p.addr(v.http), p.addr(v.rtsp)
	}
	i := rng.IntN(len(v.httpPoor))
	s.add(v.httpPoor[i].kind, 1)
	return "http://" + p.addr(v.httpPoor[i].proxy), p.addr(v.rtspPoor[i].proxy)
}

// cleanPaths are the clean paths to a node chosen as for a visit.
func (s *schedule) cleanPaths(rng *rand.Rand) (httpBase, rtspHost string) {
	v := s.node(rng)
	return "http://" + s.proxies.addr(v.http), s.proxies.addr(v.rtsp)
}

// node picks the node of a visit: one that is up, at random.
func (s *schedule) node(rng *rand.Rand) viewPaths {
	v := s.proxies.view
	if len(v) == 1 {
		return v[0]
	}
	i := rng.IntN(len(v))
	for k := range v {
		if j := (i + k) % len(v); !s.server.down[j].Load() {
			return v[j]
		}
	}
	return v[i]
}

// storm drops every camera at once and lets them all reconnect together.
func (s *schedule) storm(context.Context, int) error {
	n := s.fleet.publishing()
	for _, x := range s.proxies.cameraPaths() {
		x.Stop()
	}
	s.add(FaultCameraDrop, int64(n))
	time.Sleep(1500 * time.Millisecond)
	return restartProxies(s.proxies.cameraPaths())
}

// restartProxies starts stopped proxies again on their ports.
func restartProxies(xs []*toxiproxy.Proxy) error {
	for _, x := range xs {
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
	return s.server.nodes[0].Restart(ctx)
}

// killNode kills one node of a cluster with SIGKILL and starts it again
// some seconds later: its cameras reconnect to the others through the
// balancer meanwhile, and the world moves through the others (a move under
// way when the node is chosen ends first, so its outcome is known).
func (s *schedule) killNode(ctx context.Context, _ int) error {
	i := s.rng.IntN(len(s.server.nodes))
	s.world.Lock()
	s.server.down[i].Store(true)
	s.world.Unlock()
	defer s.server.down[i].Store(false)
	s.server.nodes[i].Kill9()
	s.add(FaultNodeKill, 1)
	sleep(ctx, 3*time.Second)
	return s.server.nodes[i].Start(ctx)
}

// cutRoutes cuts every NATS route (their proxies stop, closing the
// connections through them) for some seconds, then lets them reconnect.
func (s *schedule) cutRoutes(ctx context.Context, _ int) error {
	cut := s.server.cluster.cut
	for _, x := range cut {
		x.Stop()
	}
	s.add(FaultRouteCut, 1)
	sleep(ctx, 3*time.Second)
	if n, err := s.server.cluster.bypassing(); err == nil {
		s.add(FaultRouteBypass, int64(n))
	}
	return restartProxies(cut)
}
