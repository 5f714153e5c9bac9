package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"vigil/internal/loopback"
	"vigil/internal/sim"
	"vigil/internal/testkit"
	"vigil/internal/testkit/pgtest"
	"vigil/internal/vigilproc"
)

// stormCameras is how many cameras TestClusterReconnectStorm drops at
// once: the 200 (the storm settles within about a second; adding
// the devices takes 15 s here), or VIGIL_STORM_CAMERAS.
func stormCameras(t *testing.T) int {
	if s := os.Getenv("VIGIL_STORM_CAMERAS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 2 {
			t.Fatalf("VIGIL_STORM_CAMERAS=%q: want a number of cameras, at least 2", s)
		}
		return n
	}
	return 200
}

// TestClusterReconnectStorm: every camera is homed on node 0 (the
// balancer in front of the RTSP ports sends them all there); node 0 is
// killed with SIGKILL and all of them reconnect at once, the balancer
// spreading them over nodes 1 and 2. Once the claims settle, every camera
// is homed exactly once (the homed counts of the two nodes sum to the
// number of cameras, each camera having one connection), a viewer on node
// 2 of cameras homed on node 1 sees only each camera's own stamps, and no
// node counted an isolation violation.
func TestClusterReconnectStorm(t *testing.T) {
	began := time.Now()
	phase := func(what string) { t.Logf("%s done at %v", what, time.Since(began).Round(time.Millisecond)) }
	n := stormCameras(t)
	dsn := pgtest.NewDatabase(t)
	// The claims bucket on every node: it must outlive node 0.
	nodes := startClusterEnv(t, dsn, 3, "VIGIL_CLUSTER_REPLICAS=3")
	phase("three nodes up")
	ctx := t.Context()

	devs := make([]deviceJSON, n)
	var wg sync.WaitGroup
	errs := make([]error, n)
	sem := make(chan struct{}, 4)
	for i := range devs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = nodes[i%3].CLI(ctx, &devs[i], "device", "add", "--name", fmt.Sprintf("cam %d", i), "--json")
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	phase(fmt.Sprintf("%d cameras added", n))

	var killed atomic.Bool
	var turn atomic.Uint64
	lb := balancer(t, func() []string {
		if !killed.Load() {
			return []string{nodes[0].RTSP()}
		}
		// Spread the reconnects: each connection tries the survivors in turn.
		if turn.Add(1)%2 == 0 {
			return []string{nodes[1].RTSP(), nodes[2].RTSP()}
		}
		return []string{nodes[2].RTSP(), nodes[1].RTSP()}
	})
	cams := make([]*sim.Camera, n)
	camCtx, stopCams := context.WithCancel(ctx)
	defer stopCams()
	for i, d := range devs {
		cams[i] = &sim.Camera{ID: d.ID, Key: sim.CameraKey([]byte(clusterSecret), d.ID), FPS: 5, GOP: 5, Width: 160, Height: 120,
			URL: fmt.Sprintf("rtsp://%s:%s@%s/%s", d.ID, d.Password, lb, d.ID)}
		go cams[i].Run(camCtx)
	}
	homedWithin(t, nodes[0], float64(n), 30*time.Second)
	phase("all cameras homed on node 0")

	killed.Store(true)
	nodes[0].Kill9()
	phase("node 0 killed")
	testkit.WaitFor(t, 30*time.Second, "every camera homed once on nodes 1 and 2", func() error {
		sum := 0.0
		for _, p := range nodes[1:] {
			m, err := p.Metrics(ctx, "vigil_cluster_streams_homed")
			if err != nil {
				return err
			}
			sum += m["vigil_cluster_streams_homed"]
		}
		if sum != float64(n) {
			return fmt.Errorf("%v streams homed on nodes 1 and 2, want %d", sum, n)
		}
		return nil
	})
	phase("storm settled")
	// Settled means stable: a camera homed twice would show as more
	// claims than cameras once a fenced session's claim renews or lapses.
	time.Sleep(6 * time.Second)
	counts := make([]float64, 0, 2)
	for _, p := range nodes[1:] {
		m, err := p.Metrics(ctx, "vigil_cluster_streams_homed", "vigil_isolation_violations_total", "vigil_cluster_bus_refused_total")
		if err != nil {
			t.Fatal(err)
		}
		counts = append(counts, m["vigil_cluster_streams_homed"])
		if m["vigil_isolation_violations_total"] != 0 {
			t.Errorf("%s counted %v isolation violations", p.Base(), m["vigil_isolation_violations_total"])
		}
	}
	if counts[0]+counts[1] != float64(n) || counts[0] == 0 || counts[1] == 0 {
		t.Fatalf("after the storm: %v streams homed on nodes 1 and 2, want %d in all, on both", counts, n)
	}
	for i, c := range cams {
		if c.Sessions() < 2 {
			t.Errorf("camera %d has had %d sessions: it did not reconnect", i, c.Sessions())
		}
	}
	// Viewers on node 2 of a few cameras, wherever they landed: each sees
	// its own camera's stamps only.
	for _, d := range devs[:2] {
		ffmpegStamps(t, fmt.Sprintf("rtsp://admin:%s@%s/%s", nodes[2].AdminPassword(), nodes[2].RTSP(), d.ID), d.ID)
	}
	phase(fmt.Sprintf("viewers on node 2 (homed: node 1 %v, node 2 %v)", counts[0], counts[1]))
}

// balancer is an L4 balancer on loopback whose backends the test chooses
// per connection; it returns its address.
func balancer(t *testing.T, backends func() []string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go loopback.Balance(l, backends)
	return l.Addr().String()
}

// homedWithin waits until p holds n camera claims.
func homedWithin(t *testing.T, p *vigilproc.Proc, n float64, within time.Duration) {
	t.Helper()
	testkit.WaitFor(t, within, fmt.Sprintf("%s homing %v streams", p.Base(), n), func() error {
		m, err := p.Metrics(t.Context(), "vigil_cluster_streams_homed")
		if err != nil || m["vigil_cluster_streams_homed"] != n {
			return fmt.Errorf("%v, %v", m, err)
		}
		return nil
	})
}
