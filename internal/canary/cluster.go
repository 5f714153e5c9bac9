package canary

import (
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/Shopify/toxiproxy/v2"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"vigil/internal/loopback"
	"vigil/internal/pgproc"
	"vigil/internal/vigilproc"
)

// The cluster mode (Config.Nodes > 1): the nodes share one Postgres (a
// throwaway one unless Config.Postgres names a server) and one master key,
// and their embedded NATS servers are routed to each other through
// toxiproxy, so that the schedule can cut the routes, and record to one
// S3-compatible bucket (gofakes3, in memory). Cameras publish, and
// upload stills, through loopback L4 balancers that send each connection
// to a node that is up, at random, as an operator's balancer would;
// viewers and the world's moves pick a node at random.

// masterKeyFile is where a node keeps its master key in its data directory
// (32 random bytes, file mode 0600): every node of a cluster needs the
// same one to open what another sealed.
const masterKeyFile = "master.key"

// clusterNet is what the canary runs around a cluster's nodes.
type clusterNet struct {
	pg     *pgproc.Server // nil when Config.Postgres names a server
	routes *toxiproxy.ApiServer
	// cut are the route proxies, one per node (node i's peers reach its
	// route port through cut[i]).
	cut      []*toxiproxy.Proxy
	listen   []int        // the nodes' route ports, behind cut
	s3       *http.Server // the recordings' bucket (gofakes3, in memory)
	cameraLB net.Listener // RTSP, to any node up
	uploadLB net.Listener // HTTP, to any node up
	wg       sync.WaitGroup
}

// newCluster makes cfg.Nodes node processes (not started) with env, their
// Postgres, route proxies and balancers.
func (s *server) newCluster(cfg Config, env []string) (err error) {
	cn := &clusterNet{}
	s.cluster = cn
	defer func() {
		if err != nil {
			cn.close()
		}
	}()
	dsn := cfg.Postgres
	if dsn == "" {
		if cn.pg, err = pgproc.Start(); err != nil {
			return fmt.Errorf("canary: cluster: postgres: %w", err)
		}
		dsn = cn.pg.DSN("postgres")
	}
	ports, err := loopback.TCPPorts(cfg.Nodes)
	if err != nil {
		return err
	}
	zerolog.SetGlobalLevel(zerolog.Disabled)
	cn.routes = toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	var via []string
	for i, p := range ports {
		x, addr, err := startProxy(cn.routes, fmt.Sprintf("route-%d", i), loopback.Addr(p))
		if err != nil {
			return err
		}
		cn.cut = append(cn.cut, x)
		cn.listen = append(cn.listen, p)
		via = append(via, addr)
	}
	// Recordings go to one object store, as a cluster's must: a node
	// reads what another recorded.
	store, err := cn.startS3()
	if err != nil {
		return err
	}
	master := make([]byte, 32)
	rand.Read(master)
	admin := randomHex(16)
	for i := range cfg.Nodes {
		data := filepath.Join(cfg.Dir, fmt.Sprintf("node-%d", i))
		if err := os.MkdirAll(data, 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(data, masterKeyFile), master, 0o600); err != nil {
			return err
		}
		nodeEnv := append(append([]string(nil), env...), "VIGIL_STORE=postgres", "VIGIL_STORE_DSN="+dsn,
			fmt.Sprintf("VIGIL_CLUSTER_NODE=node-%d", i), "VIGIL_CLUSTER_LISTEN="+loopback.Addr(ports[i]),
			// The peers learn of one another by gossip too: without
			// this a cut's reconnects came back as direct routes that
			// the next cut left standing.
			"VIGIL_CLUSTER_ADVERTISE="+via[i],
			"VIGIL_CLUSTER_ROUTES="+strings.Join(via, ","), fmt.Sprintf("VIGIL_CLUSTER_REPLICAS=%d", min(3, cfg.Nodes)),
			"VIGIL_RECORD_STORE="+store)
		p, err := vigilproc.New(vigilproc.Config{Bin: cfg.Bin, Data: data, Log: filepath.Join(cfg.Dir, fmt.Sprintf("vigil-%d.log", i)),
			Env: nodeEnv, AdminPassword: admin})
		if err != nil {
			return err
		}
		s.nodes = append(s.nodes, p)
	}
	if cn.cameraLB, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return err
	}
	if cn.uploadLB, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return err
	}
	cn.wg.Go(func() { loopback.Balance(cn.cameraLB, s.backends((*vigilproc.Proc).RTSP)) })
	cn.wg.Go(func() { loopback.Balance(cn.uploadLB, s.backends((*vigilproc.Proc).HTTP)) })
	return nil
}

// backends returns the balancer's choice for one connection: the nodes
// that are up in a random order, then those that are not (a killed node
// refuses the dial and the next one is tried).
func (s *server) backends(addr func(*vigilproc.Proc) string) func() []string {
	return func() []string {
		var up, down []string
		for _, i := range mrand.Perm(len(s.nodes)) {
			if s.down[i].Load() {
				down = append(down, addr(s.nodes[i]))
			} else {
				up = append(up, addr(s.nodes[i]))
			}
		}
		return append(up, down...)
	}
}

// upstreams are where the canary's proxies send: the cameras' RTSP and
// uploads (one balancer each in a cluster), and each node's RTSP and HTTP
// for viewers.
func (s *server) upstreams() (cameraRTSP, upload string, rtsp, http []string) {
	for _, n := range s.nodes {
		rtsp, http = append(rtsp, n.RTSP()), append(http, n.HTTP())
	}
	if s.cluster == nil {
		return rtsp[0], http[0], rtsp, http
	}
	return s.cluster.cameraLB.Addr().String(), s.cluster.uploadLB.Addr().String(), rtsp, http
}

// startS3 serves an in-memory S3-compatible bucket on loopback and
// returns its record_store URL.
func (cn *clusterNet) startS3() (string, error) {
	const bucket = "canary-recordings"
	be := s3mem.New()
	if err := be.CreateBucket(bucket); err != nil {
		return "", err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	cn.s3 = &http.Server{Handler: gofakes3.New(be).Server()}
	cn.wg.Go(func() { cn.s3.Serve(l) })
	return fmt.Sprintf("s3+http://canary:%s@%s/%s", randomHex(8), l.Addr(), bucket), nil
}

func (cn *clusterNet) close() {
	if cn.s3 != nil {
		cn.s3.Close()
	}
	for _, l := range []net.Listener{cn.cameraLB, cn.uploadLB} {
		if l != nil {
			l.Close()
		}
	}
	cn.wg.Wait()
	for _, x := range cn.cut {
		x.Stop()
	}
	if cn.pg != nil {
		cn.pg.Stop()
	}
}

// startProxy starts a toxiproxy from a random loopback port below Linux's
// ephemeral range (32768 on): a proxy stopped and started again must find
// its port free, and a port the kernel hands out to outgoing connections
// may meanwhile be some connection's own ("bind: address already in use").
func startProxy(srv *toxiproxy.ApiServer, name, upstream string) (*toxiproxy.Proxy, string, error) {
	var err error
	for range 21 {
		addr := fmt.Sprintf("127.0.0.1:%d", 20000+mrand.IntN(12000))
		x := toxiproxy.NewProxy(srv, name, addr, upstream)
		if err = x.Start(); err == nil {
			return x, addr, nil
		}
	}
	return nil, "", fmt.Errorf("canary: proxy %s: %w", name, err)
}

// bypassing counts the TCP connections established to the nodes' route
// ports on loopback (Linux's /proc/net/tcp): while the route proxies are
// stopped there must be none, or a cut cut nothing.
func (cn *clusterNet) bypassing() (int, error) {
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 4 || f[3] != "01" { // ESTABLISHED
			continue
		}
		host, port, ok := strings.Cut(f[2], ":")
		p, err := strconv.ParseUint(port, 16, 16)
		if !ok || err != nil || host != "0100007F" { // 127.0.0.1, little-endian
			continue
		}
		if slices.Contains(cn.listen, int(p)) {
			n++
		}
	}
	return n, nil
}
