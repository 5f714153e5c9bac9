package cluster

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"vigil/internal/limit"
)

// Config says how a node reaches the others: through a NATS server
// embedded in it, routed to its peers, or through an external NATS cluster.
type Config struct {
	// Name names the node; unique in the cluster. Required.
	Name string
	// URL, when set, is an external NATS cluster (comma-separated
	// nats://host:port URLs) used instead of an embedded server; the
	// fields below are then ignored.
	URL string
	// ClusterName is the NATS cluster's name, the same on every node. It
	// defaults to "vigil".
	ClusterName string
	// RouteListen is the host:port on which the embedded server accepts
	// routes from its peers. Required without URL.
	RouteListen string
	// RouteAdvertise, when set, is the host:port the peers reach
	// RouteListen at (a proxy or NAT between them); the server gossips it
	// to its peers instead of RouteListen. It defaults to RouteListen.
	RouteAdvertise string
	// Routes are the route addresses (host:port) of the peers; listing the
	// node's own address too is harmless, so every node may get one list.
	// JetStream needs at least one.
	Routes []string
	// RouteSecret, when set, is the password every node's routes present
	// and require: a server that does not know it cannot join the cluster
	// (read the bus's sealed units, write claims). Routes are plain TCP;
	// run them on a private network. Empty means unauthenticated routes.
	RouteSecret string
	// StoreDir is where the embedded server keeps JetStream's files (the
	// claims bucket). Required without URL.
	StoreDir string
	// ReadyTimeout bounds the embedded server's start. It defaults to 10 s.
	ReadyTimeout time.Duration
}

// routeUser is the user name routes authenticate as; the secret is the password.
const routeUser = "vigil"

// Node is this process's place in the cluster: a NATS connection and, when
// embedded, the server it connects to in process.
type Node struct {
	name string
	srv  *server.Server // nil with an external URL
	nc   *nats.Conn
	js   jetstream.JetStream
}

// Start starts the embedded server (unless cfg.URL is set) and connects
// to it. Close stops both.
func Start(ctx context.Context, cfg Config, log *slog.Logger) (*Node, error) {
	if cfg.Name == "" {
		return nil, fmt.Errorf("%w: Name is required (unique per node)", ErrConfig)
	}
	log = log.With("node", cfg.Name)
	opts := []nats.Option{nats.Name("vigil " + cfg.Name), nats.MaxReconnects(-1), nats.ReconnectWait(250 * time.Millisecond)}
	n := &Node{name: cfg.Name}
	addr := cfg.URL
	if addr == "" {
		token := rand.Text()
		srv, err := startServer(cfg, token, log)
		if err != nil {
			return nil, err
		}
		n.srv = srv
		opts = append(opts, nats.InProcessServer(srv), nats.Token(token))
	}
	nc, err := nats.Connect(addr, opts...)
	if err != nil {
		n.Close()
		return nil, fmt.Errorf("cluster: connect to NATS %q: %w", addr, err)
	}
	n.nc = nc
	if n.js, err = jetstream.New(nc); err != nil {
		n.Close()
		return nil, fmt.Errorf("cluster: jetstream: %w", err)
	}
	return n, nil
}

// startServer starts an embedded NATS server with JetStream, clustered
// over routes to cfg.Routes. The node connects in process; the server
// must still listen for clients (its routing waits for that listener), so
// it does on a random loopback port, behind a token only the node knows.
func startServer(cfg Config, token string, log *slog.Logger) (*server.Server, error) {
	host, port, err := splitHostPort(cfg.RouteListen)
	if err != nil {
		return nil, fmt.Errorf("%w: RouteListen %q: %v (want host:port)", ErrConfig, cfg.RouteListen, err)
	}
	if cfg.StoreDir == "" {
		return nil, fmt.Errorf("%w: StoreDir is required for the embedded NATS server's JetStream files", ErrConfig)
	}
	if len(cfg.Routes) == 0 {
		return nil, fmt.Errorf("%w: Routes must list the peers' route addresses (JetStream needs them)", ErrConfig)
	}
	var routes []*url.URL
	for _, r := range cfg.Routes {
		if _, _, err := splitHostPort(r); err != nil {
			return nil, fmt.Errorf("%w: route %q: %v (want host:port)", ErrConfig, r, err)
		}
		u := &url.URL{Scheme: "nats-route", Host: r}
		if cfg.RouteSecret != "" {
			u.User = url.UserPassword(routeUser, cfg.RouteSecret)
		}
		routes = append(routes, u)
	}
	name := cfg.ClusterName
	if name == "" {
		name = "vigil"
	}
	cluster := server.ClusterOpts{Name: name, Host: host, Port: port, Advertise: cfg.RouteAdvertise}
	if cfg.RouteSecret != "" {
		cluster.Username, cluster.Password = routeUser, cfg.RouteSecret
	}
	srv, err := server.NewServer(&server.Options{
		ServerName:    cfg.Name,
		Host:          "127.0.0.1",
		Port:          server.RANDOM_PORT,
		Authorization: token,
		JetStream:     true,
		StoreDir:      cfg.StoreDir,
		NoSigs:        true,
		Cluster:       cluster,
		Routes:        routes,
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: embedded NATS server: %w", err)
	}
	srv.SetLoggerV2(newNATSLog(log), false, false, false)
	srv.Start()
	ready := cfg.ReadyTimeout
	if ready <= 0 {
		ready = 10 * time.Second
	}
	if !srv.ReadyForConnections(ready) {
		srv.Shutdown()
		return nil, fmt.Errorf("cluster: embedded NATS server not ready within %v; is %s free?", ready, cfg.RouteListen)
	}
	return srv, nil
}

func splitHostPort(hp string) (string, int, error) {
	host, p, err := net.SplitHostPort(hp)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, errors.New("port must be 1-65535")
	}
	return host, port, nil
}

// Name is the node's name.
func (n *Node) Name() string { return n.name }

// Conn is the node's NATS connection.
func (n *Node) Conn() *nats.Conn { return n.nc }

// JetStream is the node's JetStream context.
func (n *Node) JetStream() jetstream.JetStream { return n.js }

// Close drains nothing: it closes the connection and stops the embedded
// server, as a node that dies would. Peers see its routes drop.
func (n *Node) Close() {
	if n.nc != nil {
		n.nc.Close()
	}
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
	}
}

// natsLog passes the embedded server's warnings and errors to slog; its
// notices (routes up and down, elections) go to debug. A dead peer makes
// the server retry its route about once a second, each attempt an error:
// those lines are rate-limited (limit.Log, routeLogEvery).
type natsLog struct {
	log    *slog.Logger
	routes *limit.Log[string]
}

func newNATSLog(log *slog.Logger) natsLog {
	return natsLog{log: log, routes: limit.NewLog[string](routeLogEvery)}
}

// routeLogEvery is how often a failing route to one peer is logged.
const routeLogEvery = 30 * time.Second

func (l natsLog) Noticef(format string, v ...any) { l.log.Debug("nats: " + fmt.Sprintf(format, v...)) }
func (l natsLog) Warnf(format string, v ...any)   { l.log.Warn("nats: " + fmt.Sprintf(format, v...)) }
func (l natsLog) Fatalf(format string, v ...any)  { l.log.Error("nats: " + fmt.Sprintf(format, v...)) }
func (l natsLog) Errorf(format string, v ...any) {
	msg := "nats: " + fmt.Sprintf(format, v...)
	if strings.Contains(format, "trying to connect to route") {
		// A peer not up yet, or down: expected while nodes start and die.
		// Logged once per routeLogEvery per failure (the error names the
		// peer's address; the attempt number is left out of the key).
		key := format
		if len(v) > 0 {
			key += fmt.Sprint(v[len(v)-1])
		}
		if ok, suppressed := l.routes.Allow(key); ok {
			l.log.Warn(msg, "suppressed", suppressed)
		}
		return
	}
	l.log.Error(msg)
}
func (l natsLog) Debugf(string, ...any) {}
func (l natsLog) Tracef(string, ...any) {}
