package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"vigil/internal/datadir"
	"vigil/internal/loopback"
	"vigil/internal/pgproc"
	"vigil/internal/seal"
	"vigil/internal/vigilproc"
)

// cluster is the cluster scenarios' nodes on one throwaway Postgres: the
// same binary as the other scenarios, configured as a cluster.
type cluster struct {
	pg    *pgproc.Server
	nodes []*vigil // a node stopped or killed by the scenario is set to nil
}

// startCluster starts Postgres and n nodes named name-node-i on it;
// stop ends them, whatever startCluster returned.
func startCluster(ctx context.Context, b *bench, name string, n int) (*cluster, error) {
	pg, err := pgproc.Start()
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	c := &cluster{pg: pg}
	c.nodes, err = startNodes(ctx, b, name, pg.DSN("postgres"), n)
	return c, err
}

// stop ends the nodes still running, then Postgres.
func (c *cluster) stop() {
	if c == nil {
		return
	}
	for _, n := range c.nodes {
		if n != nil {
			n.Stop()
		}
	}
	c.pg.Stop()
}

// others is every running node but nodes[i], to sample beside it.
func (c *cluster) others(i int) []measured {
	var out []measured
	for k, n := range c.nodes {
		if k != i && n != nil {
			out = append(out, n)
		}
	}
	return out
}

// addDevices adds n cameras named prefix-1… through node 0, four `vigil
// device add` at a time, in order.
func (c *cluster) addDevices(ctx context.Context, prefix string, n int) ([]device, error) {
	devs := make([]device, n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for i := range n {
		g.Go(func() error {
			d := &devs[i]
			if err := c.nodes[0].CLI(gctx, d, "device", "add", "--name", fmt.Sprintf("%s-%d", prefix, i+1), "--json"); err != nil {
				return err
			}
			if d.ID == "" {
				return errors.New("vigil device add: no id in its output")
			}
			return nil
		})
	}
	return devs, g.Wait()
}

// startNodes starts n cluster nodes named name-node-i on the database dsn
// with a shared master key, their embedded NATS servers routed to each
// other.
func startNodes(ctx context.Context, b *bench, name, dsn string, n int) ([]*vigil, error) {
	master := make([]byte, seal.MasterKeySize)
	rand.Read(master)
	ports, err := loopback.TCPPorts(n) // held until all are chosen: no two nodes share a route port
	if err != nil {
		return nil, err
	}
	var routes []string
	for _, p := range ports {
		routes = append(routes, loopback.Addr(p))
	}
	admin := rand.Text()
	nodes := make([]*vigil, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		node := fmt.Sprintf("%s-node-%d", name, i)
		data := filepath.Join(b.tmp, node)
		if err := os.MkdirAll(data, 0o700); err != nil {
			return nodes, err
		}
		if err := os.WriteFile(filepath.Join(data, datadir.MasterKeyFile), master, 0o600); err != nil {
			return nodes, err
		}
		cfg := vigilproc.Config{Data: data, AdminPassword: admin, Env: []string{"VIGIL_STORE=postgres", "VIGIL_STORE_DSN=" + dsn,
			fmt.Sprintf("VIGIL_CLUSTER_NODE=node-%d", i), "VIGIL_CLUSTER_LISTEN=" + routes[i],
			"VIGIL_CLUSTER_ROUTES=" + strings.Join(routes, ","), "VIGIL_CLUSTER_REPLICAS=3"}}
		b.logs = append(b.logs, node)
		wg.Go(func() { nodes[i], errs[i] = b.spawn(ctx, node, cfg) })
	}
	wg.Wait()
	return nodes, errors.Join(errs...)
}
