package cluster

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"
)

// quiet discards the embedded servers' logs, which outlive a test's output.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// startNodes starts n embedded nodes routed to each other on loopback and
// closes them when the test ends.
func startNodes(t *testing.T, n int) []*Node {
	t.Helper()
	addrs := freeAddrs(t, n)
	nodes := make([]*Node, n)
	for i := range n {
		node, err := Start(t.Context(), Config{
			Name:        "node" + string(rune('1'+i)),
			RouteListen: addrs[i],
			Routes:      addrs,
			StoreDir:    t.TempDir(),
		}, quiet)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(node.Close)
		nodes[i] = node
	}
	return nodes
}

// freeAddrs returns n loopback addresses free a moment ago. Another
// process may take one before the server binds it; the server then fails
// to start and says which address.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var addrs []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		addrs = append(addrs, l.Addr().String())
	}
	return addrs
}

// openRegistries opens a registry on each node (same bucket) and runs
// them until the test ends.
func openRegistries(t *testing.T, nodes []*Node, cfg RegistryConfig) []*Registry {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	regs := make([]*Registry, len(nodes))
	for i, n := range nodes {
		cfg.Node = n.Name()
		cfg.Replicas = min(len(nodes), 3)
		octx, ocancel := context.WithTimeout(ctx, 20*time.Second)
		r, err := OpenRegistry(octx, n.JetStream(), cfg, quiet)
		ocancel()
		if err != nil {
			t.Fatal(err)
		}
		go r.Run(ctx)
		regs[i] = r
	}
	return regs
}

func TestStartRefusesIncompleteConfig(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no name":    {RouteListen: "127.0.0.1:1", Routes: []string{"127.0.0.1:1"}, StoreDir: t.TempDir()},
		"no listen":  {Name: "n", Routes: []string{"127.0.0.1:1"}, StoreDir: t.TempDir()},
		"no routes":  {Name: "n", RouteListen: "127.0.0.1:1", StoreDir: t.TempDir()},
		"no store":   {Name: "n", RouteListen: "127.0.0.1:1", Routes: []string{"127.0.0.1:1"}},
		"bad route":  {Name: "n", RouteListen: "127.0.0.1:1", Routes: []string{"nats://x"}, StoreDir: t.TempDir()},
		"bad listen": {Name: "n", RouteListen: "127.0.0.1", Routes: []string{"127.0.0.1:1"}, StoreDir: t.TempDir()},
	} {
		if n, err := Start(t.Context(), cfg, quiet); err == nil {
			n.Close()
			t.Errorf("%s: Start succeeded", name)
		}
	}
}
