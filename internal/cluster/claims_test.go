package cluster

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/testkit"
)

func isFenced(c *Claim) bool {
	select {
	case <-c.Fenced():
		return true
	default:
		return false
	}
}

// TestClaimMoveFencesOldHolder: a camera that reconnects to another node
// is claimed there, and the old node's claim is fenced at once (by the
// watch, long before a renewal); a new session on the same node fences
// that node's older one; a release frees the camera.
func TestClaimMoveFencesOldHolder(t *testing.T) {
	regs := openRegistries(t, startNodes(t, 3), RegistryConfig{Bucket: "homes_move"})
	ctx := t.Context()
	c1, err := regs[0].Claim(ctx, "cam-a", access.StreamMain)
	if err != nil {
		t.Fatal(err)
	}
	if home, err := regs[2].Home(ctx, "cam-a", access.StreamMain); err != nil || home != "node1" {
		t.Fatalf("home seen from node3 = %q, %v; want node1", home, err)
	}
	moved := time.Now()
	c2, err := regs[1].Claim(ctx, "cam-a", access.StreamMain)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-c1.Fenced():
		c2.mu.Lock()
		written := c2.renewed.Sub(moved)
		c2.mu.Unlock()
		t.Logf("claim written in %v, old holder fenced %v after the claim began", written, time.Since(moved))
	case <-time.After(3 * time.Second): // renewal comes after 5 s: only the watch is this quick
		t.Fatal("node1's claim was not fenced within 3 s of node2 claiming the camera")
	}
	if !c2.Live() || c1.Live() {
		t.Fatalf("after the move: node1 live %v, node2 live %v; want only node2", c1.Live(), c2.Live())
	}
	if regs[0].Moves() != 1 {
		t.Errorf("node1 counted %d claim moves, want 1", regs[0].Moves())
	}
	c3, err := regs[1].Claim(ctx, "cam-a", access.StreamMain)
	if err != nil {
		t.Fatal(err)
	}
	if !isFenced(c2) || !c3.Live() {
		t.Fatalf("a second session on node2 left the first live (%v) or is not live (%v)", c2.Live(), c3.Live())
	}
	if err := c3.Release(ctx); err != nil {
		t.Fatal(err)
	}
	// Home answers from the node's watch: the release reaches it in a moment.
	testkit.WaitFor(t, 2*time.Second, "no home after release", func() error {
		if home, err := regs[0].Home(ctx, "cam-a", access.StreamMain); err != nil || home != "" {
			return fmt.Errorf("home after release = %q, %v; want none", home, err)
		}
		return nil
	})
}

// TestClaimRenewedPastTTL: a held claim outlives its TTL by renewal; a
// holder that stops renewing loses it to expiry, another node may then
// claim the camera, and when the old holder renews again (it has no watch
// running) it is fenced.
func TestClaimRenewedPastTTL(t *testing.T) {
	nodes := startNodes(t, 3)
	cfg := RegistryConfig{Bucket: "homes_ttl", TTL: 1500 * time.Millisecond, Renew: 300 * time.Millisecond}
	regs := openRegistries(t, nodes, cfg)
	ctx := t.Context()
	c, err := regs[0].Claim(ctx, "cam-a", access.StreamMain)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * cfg.TTL) // the behaviour under test is the passing of time
	if !c.Live() {
		t.Fatal("a renewed claim was fenced")
	}
	if home, err := regs[1].Home(ctx, "cam-a", access.StreamMain); err != nil || home != "node1" {
		t.Fatalf("home after 2 TTLs = %q, %v; want node1 (renewed)", home, err)
	}

	// A registry that is not run does not renew: its claim expires.
	cfg.Node = "node3"
	cfg.Replicas = 3
	idle, err := OpenRegistry(ctx, nodes[2].JetStream(), cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	lapsed, err := idle.Claim(ctx, "cam-b", access.StreamMain)
	if err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "expiry of an unrenewed claim", func() error {
		if home, err := regs[0].Home(ctx, "cam-b", access.StreamMain); err != nil || home != "" {
			return fmt.Errorf("home = %q, %v", home, err)
		}
		return nil
	})
	// Home reads any replica, and each expires the claim on its own timer:
	// the stream's leader, which checks writes, has expired it once a
	// create succeeds there.
	testkit.WaitFor(t, 10*time.Second, "the leader expiring the claim", func() error {
		_, err := regs[0].kv.Create(ctx, claimKey("cam-b", access.StreamMain), []byte(`{"node":"node1","claim":"probe"}`))
		return err
	})
	lapsed.renew(ctx)
	if !isFenced(lapsed) {
		t.Fatal("renewing a lapsed claim did not fence it")
	}
}

// TestClaimStorm: 200 cameras homed over three nodes all move at once,
// some twice in quick succession from different nodes; once the claims
// settle, every camera has exactly one live claim, on the node the bucket
// names, and every other claim was fenced.
func TestClaimStorm(t *testing.T) {
	regs := openRegistries(t, startNodes(t, 3), RegistryConfig{Bucket: "homes_storm"})
	ctx := t.Context()
	const cameras = 200
	var mu sync.Mutex
	claims := map[access.DeviceID][]*Claim{}
	claim := func(r *Registry, dev access.DeviceID) error {
		c, err := r.Claim(ctx, dev, access.StreamMain)
		if err != nil {
			return err
		}
		mu.Lock()
		claims[dev] = append(claims[dev], c)
		mu.Unlock()
		return nil
	}
	devs := make([]access.DeviceID, cameras)
	for i := range devs {
		devs[i] = access.DeviceID(fmt.Sprintf("cam-%03d", i))
	}
	storm := func(pick func(i int) []*Registry) {
		var wg sync.WaitGroup
		errs := make(chan error, 2*cameras)
		for i, dev := range devs {
			for _, r := range pick(i) {
				wg.Go(func() {
					if err := claim(r, dev); err != nil {
						errs <- err
					}
				})
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
	storm(func(i int) []*Registry { return regs[i%3 : i%3+1] })
	// Every camera moves off its node; every fourth is claimed by both
	// other nodes at once, as a camera reconnecting twice in a storm.
	storm(func(i int) []*Registry {
		a, b := regs[(i+1)%3], regs[(i+2)%3]
		if i%4 == 0 {
			return []*Registry{a, b}
		}
		if rand.IntN(2) == 0 {
			return []*Registry{a}
		}
		return []*Registry{b}
	})
	testkit.WaitFor(t, 10*time.Second, "one live claim per camera", func() error {
		for _, dev := range devs {
			if err := oneHome(ctx, regs[0], dev, claims[dev]); err != nil {
				return err
			}
		}
		return nil
	})
	held := 0
	for _, r := range regs {
		held += r.Held()
	}
	if held != cameras {
		t.Fatalf("the nodes hold %d claims for %d cameras", held, cameras)
	}
}

// oneHome checks that exactly one of a camera's claims is live and that it
// is on the node the bucket names.
func oneHome(ctx context.Context, r *Registry, dev access.DeviceID, claims []*Claim) error {
	var live []*Claim
	for _, c := range claims {
		if c.Live() {
			live = append(live, c)
		}
	}
	if len(live) != 1 {
		return fmt.Errorf("%s has %d live claims of %d", dev, len(live), len(claims))
	}
	home, err := r.Home(ctx, dev, access.StreamMain)
	if err != nil {
		return err
	}
	if home != live[0].Node() {
		return fmt.Errorf("%s: live claim on %s, bucket names %q", dev, live[0].Node(), home)
	}
	return nil
}

// TestReservePullsOnce: of nodes that all list the same pull camera and
// reserve it at once, exactly one gets it and keeps it while it renews;
// the others get it only after the reservation lapses.
func TestReservePullsOnce(t *testing.T) {
	regs := openRegistries(t, startNodes(t, 3), RegistryConfig{Bucket: "homes_reserve", TTL: 3 * time.Second, Renew: time.Second})
	ctx := t.Context()
	got := make([]bool, len(regs))
	var wg sync.WaitGroup
	for i, r := range regs {
		wg.Go(func() {
			ok, err := r.Reserve(ctx, "cam-p")
			if err != nil {
				t.Error(err)
			}
			got[i] = ok
		})
	}
	wg.Wait()
	winner := -1
	for i, ok := range got {
		if ok {
			if winner >= 0 {
				t.Fatalf("nodes %d and %d both pull cam-p", winner, i)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatal("no node pulls cam-p")
	}
	other := regs[(winner+1)%len(regs)]
	for range 4 { // the winner renews within the TTL: it keeps the camera
		time.Sleep(500 * time.Millisecond)
		if ok, err := regs[winner].Reserve(ctx, "cam-p"); !ok || err != nil {
			t.Fatalf("the pulling node lost its reservation: %v, %v", ok, err)
		}
		if ok, _ := other.Reserve(ctx, "cam-p"); ok {
			t.Fatal("another node took a renewed reservation over")
		}
	}
	testkit.WaitFor(t, 15*time.Second, "the unrenewed reservation lapsing to another node", func() error {
		if ok, err := other.Reserve(ctx, "cam-p"); !ok {
			return fmt.Errorf("not yet (%v)", err)
		}
		return nil
	})
}

// TestHomeFollowsTheWatch: a node's answer to "which node is home to this
// camera" follows claims made elsewhere — a move, a release — and a claim
// not renewed for TTL (its node died) is no one's.
func TestHomeFollowsTheWatch(t *testing.T) {
	regs := openRegistries(t, startNodes(t, 3), RegistryConfig{Bucket: "homes_watch", TTL: 2 * time.Second, Renew: 500 * time.Millisecond})
	ctx := t.Context()
	homeIs := func(want string) {
		t.Helper()
		testkit.WaitFor(t, 10*time.Second, "node3 seeing home "+want, func() error {
			if got, err := regs[2].Home(ctx, "cam-w", access.StreamMain); err != nil || got != want {
				return fmt.Errorf("%q, %v", got, err)
			}
			return nil
		})
	}
	homeIs("")
	if _, err := regs[0].Claim(ctx, "cam-w", access.StreamMain); err != nil {
		t.Fatal(err)
	}
	homeIs("node1")
	c2, err := regs[1].Claim(ctx, "cam-w", access.StreamMain)
	if err != nil {
		t.Fatal(err)
	}
	homeIs("node2")
	if err := c2.Release(ctx); err != nil {
		t.Fatal(err)
	}
	homeIs("")
	// A claim whose renewals stop (the node is gone) lapses after TTL.
	c3, err := regs[0].Claim(ctx, "cam-w", access.StreamMain)
	if err != nil {
		t.Fatal(err)
	}
	homeIs("node1")
	regs[0].mu.Lock()
	delete(regs[0].held, c3.key) // node1 stops renewing, as a dead node does
	regs[0].mu.Unlock()
	homeIs("")
}
