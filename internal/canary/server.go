package canary

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"path/filepath"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"vigil/internal/vigilproc"
)

// server is the vigil binary under test: one node, or the nodes of a
// cluster on one Postgres (Config.Nodes), each on loopback ports that stay
// the same across restarts (the proxies and balancers point at them), with
// one Google and one Alexa client configured.
type server struct {
	nodes        []*vigilproc.Proc
	down         []atomic.Bool // node i is being killed and restarted
	googleSecret string        // of the Google and Alexa clients configured in Vigil
	cluster      *clusterNet   // nil for one node
}

func newServer(cfg Config) (*server, error) {
	s := &server{googleSecret: randomHex(16)}
	env := []string{"VIGIL_TRUSTED_PROXIES=127.0.0.1/32", "VIGIL_MUTANT=" + cfg.Mutant,
		"VIGIL_OAUTH_CLIENTS=" + assistantClients(s.googleSecret),
		// Every simulated camera connects from 127.0.0.1: the
		// per-address RTSP cap would refuse the households, not
		// strangers (HTTP requests name their household in
		// X-Forwarded-For, and a trusted proxy's connections are not
		// capped).
		"VIGIL_RTSP_MAX_CONNS_PER_ADDRESS=1000000",
		// Recordings are a flow too: short segments, so that a run
		// reads some of every camera's.
		"VIGIL_RECORD=true", "VIGIL_RECORD_SEGMENT=" + recordSegment(cfg.Cameras).String()}
	if cfg.Nodes <= 1 {
		p, err := vigilproc.New(vigilproc.Config{Bin: cfg.Bin, Data: filepath.Join(cfg.Dir, "data"), Log: filepath.Join(cfg.Dir, "vigil.log"), Env: env})
		if err != nil {
			return nil, err
		}
		s.nodes = []*vigilproc.Proc{p}
	} else if err := s.newCluster(cfg, env); err != nil {
		return nil, err
	}
	s.down = make([]atomic.Bool, len(s.nodes))
	return s, nil
}

// CLI runs a vigil subcommand on the first node's data directory (a
// cluster's nodes share one store).
func (s *server) CLI(ctx context.Context, out any, args ...string) error {
	return s.nodes[0].CLI(ctx, out, args...)
}

// Start starts every node.
func (s *server) Start(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, n := range s.nodes {
		g.Go(func() error { return n.Start(gctx) })
	}
	return g.Wait()
}

// Kill9 kills every node (and a cluster's Postgres and route proxies).
func (s *server) Kill9() {
	for _, n := range s.nodes {
		n.Kill9()
	}
	if s.cluster != nil {
		s.cluster.close()
	}
}

// pick returns a node that is up, at random.
func (s *server) pick() *vigilproc.Proc {
	i := mrand.IntN(len(s.nodes))
	for k := range s.nodes {
		if j := (i + k) % len(s.nodes); !s.down[j].Load() {
			return s.nodes[j]
		}
	}
	return s.nodes[i]
}

// HTTP is the HTTP host:port of a node that is up, at random: the moves of
// the world go to any node, as people's requests do behind a balancer.
func (s *server) HTTP() string { return s.pick().HTTP() }

// LogLines returns the lines of every node's log that contain substr.
func (s *server) LogLines(substr string) []string {
	var out []string
	for _, n := range s.nodes {
		out = append(out, n.LogLines(substr)...)
	}
	return out
}

// metricViolations is the server's count of egress checks that failed.
const metricViolations = "vigil_isolation_violations_total"

// violations reads vigil_isolation_violations_total of node i.
func (s *server) violations(ctx context.Context, i int) (float64, error) {
	m, err := s.nodes[i].Metrics(ctx, metricViolations)
	if err != nil {
		return 0, err
	}
	v, ok := m[metricViolations]
	if !ok {
		return 0, errors.New("metrics: " + metricViolations + " missing")
	}
	return v, nil
}

// Client addresses. Every request of the canary reaches Vigil from
// loopback (through toxiproxy), so each names the client it stands for in
// X-Forwarded-For, which Vigil believes from 127.0.0.1 (trusted_proxies;
// a Vigil that has no such setting ignores both): a user's household has
// an address of its own, and a credential attacker another. Otherwise one
// address would carry everybody's failed sign-ins, and the attacks the
// canary makes would lock its own households out.
// recordSegment is the canary's segment length: 4 s, longer with many
// cameras so that the store sees about ten segments a second, as an
// operator's 600 cameras would at one-minute segments (at 4 s, 200 cameras
// closed 50 a second, each fsynced and indexed, and starved the store's
// other writes).
func recordSegment(cameras int) time.Duration {
	return max(4*time.Second, time.Duration(cameras)*time.Second/10)
}

func householdAddr(user int) string { return fmt.Sprintf("10.0.%d.%d", user/250, user%250+1) }

func attackerAddr(n int) string { return fmt.Sprintf("198.51.100.%d", n%254+1) }

// forwardedFor is the header naming the client a request stands for.
const forwardedFor = "X-Forwarded-For"

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
