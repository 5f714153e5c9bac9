package app

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"vigil/internal/access"
	"vigil/internal/cluster"
	"vigil/internal/hub"
	"vigil/internal/media"
	"vigil/internal/seal"
	"vigil/internal/stills"
)

// clusterJoin bounds how long a node waits at start for enough of its
// peers to keep the claims bucket.
const clusterJoin = 2 * time.Minute

// clusterSide is the app's part of a cluster (cluster_node set): the NATS
// node, the registry of which node is each camera's home, the sealed bus,
// and the feeds of cameras homed on other nodes. nil on one node.
type clusterSide struct {
	node  *cluster.Node
	reg   *cluster.Registry
	bus   *cluster.Bus
	feeds *cluster.Feeds
	home  *cluster.Home
	// hellos finds nodes with another master.key; stopHellos ends them.
	hellos     *cluster.Hellos
	stopHellos context.CancelFunc
	log        *slog.Logger
}

// joinCluster starts the node's NATS (embedded and routed to its peers, or
// an external cluster) and opens the claims registry, waiting for enough
// peers to keep it. sink makes the hub stream of a remote camera.
func (a *App) joinCluster(ctx context.Context, sealer *seal.Sealer, sink cluster.SinkFactory) (*clusterSide, error) {
	cfg := a.cfg
	node, err := cluster.Start(ctx, cluster.Config{Name: cfg.ClusterNode, URL: cfg.NATSURL.Reveal(),
		RouteListen: cfg.ClusterListen, RouteAdvertise: cfg.ClusterAdvertise, Routes: cfg.ClusterRoutes, RouteSecret: cfg.ClusterSecret.Reveal(),
		StoreDir: filepath.Join(cfg.DataDir, "nats")}, a.log)
	if err != nil {
		return nil, err
	}
	jctx, cancel := context.WithTimeoutCause(ctx, clusterJoin,
		fmt.Errorf("cluster: fewer than cluster_replicas (%d) nodes joined within %v", cfg.ClusterReplicas, clusterJoin))
	defer cancel()
	reg, err := cluster.OpenRegistry(jctx, node.JetStream(), cluster.RegistryConfig{Node: cfg.ClusterNode, Replicas: cfg.ClusterReplicas}, a.log)
	if err != nil {
		node.Close()
		return nil, err
	}
	bus := cluster.NewBus(node.Conn(), sealer, a.store, a.log)
	hctx, stopHellos := context.WithCancel(context.WithoutCancel(ctx))
	hellos, err := bus.Hello(hctx, cfg.ClusterNode, 0)
	if err != nil {
		stopHellos()
		node.Close()
		return nil, err
	}
	a.log.Info("cluster joined", "node", cfg.ClusterNode, "replicas", cfg.ClusterReplicas)
	return &clusterSide{node: node, reg: reg, bus: bus, feeds: cluster.NewFeeds(bus, sink, 0),
		home: &cluster.Home{Registry: reg, Bus: bus, Log: a.log}, hellos: hellos, stopHellos: stopHellos, log: a.log}, nil
}

// metrics registers the node's vigil_cluster_* series with reg.
func (c *clusterSide) metrics(reg prometheus.Registerer) {
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	counter := func(name, help string, f func() uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(f()) })
	}
	reg.MustRegister(
		gauge("vigil_cluster_streams_homed", "Camera streams this node is home to (claims it holds).", func() float64 { return float64(c.reg.Held()) }),
		gauge("vigil_cluster_remote_streams", "Camera streams homed on other nodes that this node is fed for its readers.",
			func() float64 { return float64(c.feeds.Active()) }),
		gauge("vigil_cluster_draining", "1 while this node drains before it stops (its /healthz answers 503 draining), else 0.", func() float64 {
			if c.draining() {
				return 1
			}
			return 0
		}),
		counter("vigil_cluster_claim_moves_total", "Claims of this node taken over by a newer session (here or on another node), which fenced their sessions.", c.reg.Moves),
		counter("vigil_cluster_bus_sent_bytes_total", "Bytes this node published on the bus (sealed, chunked).", c.bus.BytesSent),
		counter("vigil_cluster_bus_received_bytes_total", "Bytes this node's remote feeds received from the bus.", c.bus.BytesReceived),
		gauge("vigil_cluster_key_mismatch_nodes", "Nodes whose sealed hello did not open here lately: their master.key differs from this node's (each is named in an ERROR log line).",
			func() float64 { return float64(c.hellos.Mismatched()) }),
		counter("vigil_cluster_bus_dropped_total", "Camera units this node's home sessions dropped (up to the next keyframe) because the bus fell behind their send queue.", c.bus.Dropped),
		counter("vigil_cluster_bus_refused_total", "Bus messages dropped because they were malformed or did not open for the device subscribed to.", c.bus.Refused),
	)
}

// hubConfig adds the cluster's hooks to the hub's config.
func (c *clusterSide) hubConfig(hc hub.Config) hub.Config {
	if c == nil {
		return hc
	}
	hc.Home, hc.Remote, hc.FirstSession = clusterHome{c.home}, clusterRemote{c}, firstSession()
	return hc
}

// firstSession is a random base for this node's publisher session
// numbers, so that two nodes' sessions of a camera never share a number.
// It stays below 2^52 (exact in JSON numbers) with 2^20 sessions of room.
func firstSession() uint64 {
	var b [8]byte
	rand.Read(b[:])
	return binary.BigEndian.Uint64(b[:]) >> 12 &^ (1<<20 - 1)
}

// pulls keeps of sources the pull cameras this node reserves: nodes that
// all list the same pull cameras pull each once (a node claiming a pulled
// camera's stream would fence another node's pull of it, and that node's
// reconnect fence this one's). Without a cluster, all of them. The
// reservation is renewed at every listing: list more often than the
// claims' TTL (pullRefresh).
func (c *clusterSide) pulls(sources func(context.Context) (map[access.DeviceID]string, error)) func(context.Context) (map[access.DeviceID]string, error) {
	if c == nil {
		return sources
	}
	return func(ctx context.Context) (map[access.DeviceID]string, error) {
		all, err := sources(ctx)
		if err != nil {
			return nil, err
		}
		for id := range all {
			if here, err := c.reg.Reserve(ctx, id); err != nil || !here {
				delete(all, id) // a failure to reserve stops the pull: another node may hold it
			}
		}
		return all, nil
	}
}

// pullRefresh is how often pull cameras are listed (and reserved) in a
// cluster, well within the claims' 15 s TTL.
const pullRefresh = 5 * time.Second

// stillSharer gives the stills uploaded here to the other nodes; nil
// without a cluster.
func (c *clusterSide) stillSharer() func(access.DeviceID, access.StreamID, []byte) {
	if c == nil {
		return nil
	}
	return func(device access.DeviceID, stream access.StreamID, file []byte) {
		if err := c.bus.ShareStill(device, stream, file); err != nil {
			c.log.Warn("uploaded still not shared with the other nodes", "camera", device, "error", err)
		}
	}
}

// replicaTimeout bounds opening and keeping one still shared by another
// node (a store read for the grant and the epoch, a file write).
const replicaTimeout = 5 * time.Second

// receiveStills stores the stills uploaded on other nodes in s.
func (c *clusterSide) receiveStills(s *stills.Service) error {
	if c == nil {
		return nil
	}
	_, err := c.bus.SubscribeStills(func(device access.DeviceID, stream access.StreamID, file []byte) error {
		ctx, cancel := context.WithTimeout(context.Background(), replicaTimeout)
		defer cancel()
		return s.Replica(ctx, device, stream, file)
	})
	return err
}

// run processes claims (fencing, renewal) until ctx ends.
func (c *clusterSide) run(ctx context.Context) error { return c.reg.Run(ctx) }

// close leaves the cluster as a node that dies would; claims lapse.
func (c *clusterSide) close() {
	if c != nil {
		c.stopHellos()
		c.node.Close()
	}
}

// clusterHome is the hub's Home on the cluster's.
type clusterHome struct{ h *cluster.Home }

func (x clusterHome) Claim(owner media.Owner, tracks []*media.Track, start time.Time, gop func() []*media.Unit) (hub.HomeSession, error) {
	return x.h.Claim(context.Background(), cluster.Description{Owner: owner, Tracks: tracks, Start: start}, gop)
}

// clusterRemote is the hub's Remote: the feeds, and the registry for
// whether another node is a camera's home.
type clusterRemote struct{ c *clusterSide }

func (x clusterRemote) Acquire(ctx context.Context, device access.DeviceID, stream access.StreamID) (func(), error) {
	return x.c.feeds.Acquire(ctx, device, stream)
}

func (x clusterRemote) Online(device access.DeviceID, stream access.StreamID) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	home, err := x.c.reg.Home(ctx, device, stream)
	return err == nil && home != "" && home != x.c.node.Name()
}

// feed makes the hub stream of a camera homed on another node.
func (a *App) feed(d cluster.Description) (cluster.Sink, error) {
	f, err := a.hub.Feed(d.Owner, d.Tracks, d.Start, d.Epoch)
	if err != nil {
		return nil, err
	}
	return f, nil
}

var (
	_ hub.Home   = clusterHome{}
	_ hub.Remote = clusterRemote{}
)

// draining reports whether the node is leaving the cluster (drain began):
// /healthz then answers 503 "draining". Never on one node.
func (c *clusterSide) draining() bool { return c != nil && c.reg.Draining() }

// drain hands the node's cameras to the other nodes before it stops:
// /healthz answers "draining" from now on, so the load balancer sends new
// connections elsewhere; cameras reconnecting here are refused a claim;
// the claims held are released spread over window, each closing its
// camera's session so that the camera reconnects through the balancer to
// another node, and ending the feeds of the other nodes' viewers, which
// follow the camera to its new home. It answers "draining" for the whole
// window, even with no camera to hand off, so that a balancer polling
// /healthz sees it before the node stops listening; it returns after
// window, or up to drainSlack later if the last release's write is slow.
func (c *clusterSide) drain(window time.Duration) {
	began, held := time.Now(), c.reg.Held()
	c.log.Info("draining: /healthz answers 503, cameras handed to other nodes", "cameras", held, "window", window)
	ctx, cancel := context.WithTimeout(context.Background(), window+drainSlack)
	defer cancel()
	n := c.reg.Drain(ctx, window)
	c.log.Info("cameras handed off", "released", n, "of", held, "took", time.Since(began).Round(time.Millisecond))
	time.Sleep(time.Until(began.Add(window)))
}

// drainSlack is how far past cluster_drain a drain may run: the last
// release's write.
const drainSlack = 5 * time.Second

// untilDrained returns a context that ends once ctx has ended and the
// cluster side has drained; without a cluster, ctx itself. done, closed
// when Run returns, stops the wait.
func (c *clusterSide) untilDrained(ctx context.Context, window time.Duration, done <-chan struct{}) context.Context {
	if c == nil {
		return ctx
	}
	run, stop := context.WithCancelCause(context.WithoutCancel(ctx))
	go func() {
		select {
		case <-ctx.Done():
			c.drain(window)
			stop(context.Cause(ctx))
		case <-done:
			stop(context.Canceled)
		}
	}()
	return run
}
