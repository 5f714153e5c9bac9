package cluster

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"vigil/internal/testkit"
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
		nodes[i] = startNode(t, "node"+string(rune('1'+i)), addrs[i], addrs, testRouteSecret)
	}
	return nodes
}

const testRouteSecret = "test route secret"

func startNode(t *testing.T, name, listen string, routes []string, secret string) *Node {
	t.Helper()
	node, err := Start(t.Context(), Config{Name: name, RouteListen: listen, Routes: routes, RouteSecret: secret, StoreDir: t.TempDir()}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(node.Close)
	return node
}

// TestRouteSecret: a server that does not know the route secret joins no
// one: nothing published in the cluster reaches it, nothing it publishes
// reaches the cluster.
func TestRouteSecret(t *testing.T) {
	addrs := freeAddrs(t, 3)
	n1 := startNode(t, "node1", addrs[0], addrs[:2], testRouteSecret)
	n2 := startNode(t, "node2", addrs[1], addrs[:2], testRouteSecret)
	intruder := startNode(t, "intruder", addrs[2], addrs, "guessed")
	const subj = "vigil.media.cam-a.main"
	var got2, gotIntruder, fromIntruder atomic.Int64
	sub2, _ := n2.Conn().Subscribe(subj, func(m *nats.Msg) {
		if string(m.Data) == "intruder" {
			fromIntruder.Add(1)
		} else {
			got2.Add(1)
		}
	})
	defer sub2.Unsubscribe()
	subI, _ := intruder.Conn().Subscribe(subj, func(m *nats.Msg) {
		if string(m.Data) == "node1" { // not its own, which it hears back
			gotIntruder.Add(1)
		}
	})
	defer subI.Unsubscribe()
	n2.Conn().Flush()
	intruder.Conn().Flush()
	testkit.WaitFor(t, 10*time.Second, "node1's messages at node2", func() error {
		n1.Conn().Publish(subj, []byte("node1"))
		intruder.Conn().Publish(subj, []byte("intruder"))
		if got2.Load() < 5 {
			return fmt.Errorf("%d arrived", got2.Load())
		}
		return nil
	})
	time.Sleep(300 * time.Millisecond) // what crossed a route by now would have reached the intruder too
	if gotIntruder.Load() != 0 || fromIntruder.Load() != 0 {
		t.Fatalf("the intruder got %d of the cluster's messages and sent it %d", gotIntruder.Load(), fromIntruder.Load())
	}
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
