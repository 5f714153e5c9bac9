package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"vigil/internal/loopback"
	"vigil/internal/sim"
	"vigil/internal/testkit"
	"vigil/internal/testkit/pgtest"
	"vigil/internal/vigilproc"
)

// clusterDrain is the cluster_drain startCluster gives its nodes: short,
// so that every node's stop stays quick.
const clusterDrain = time.Second

// TestClusterDrain is a rolling upgrade's step: the camera's home node A
// gets SIGTERM. A's /healthz answers 503 "draining" at once, so the
// test's health-checking balancer in front of the nodes' RTSP ports sends
// the camera's reconnect to B once A hands the camera off; a viewer on B
// whose session ended with the hand-off reconnects and sees the camera's
// frames again, stamped as its own; A exits 0 within
// cluster_drain plus shutdown_timeout.
func TestClusterDrain(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	nodes := startCluster(t, dsn, 2)
	a, b := nodes[0], nodes[1]
	ctx := t.Context()
	var dev deviceJSON
	if err := a.CLI(ctx, &dev, "device", "add", "--name", "porch", "--json"); err != nil {
		t.Fatal(err)
	}
	lb := healthBalancer(t, a, b)
	cam := &sim.Camera{ID: dev.ID, Key: sim.CameraKey([]byte(clusterSecret), dev.ID), FPS: 15, GOP: 15,
		URL: fmt.Sprintf("rtsp://%s:%s@%s/%s", dev.ID, dev.Password, lb, dev.ID)}
	camCtx, stopCam := context.WithCancel(ctx)
	defer stopCam()
	go cam.Run(camCtx)
	onB := fmt.Sprintf("rtsp://admin:%s@%s/%s", b.AdminPassword(), b.RTSP(), dev.ID)
	ffmpegStamps(t, onB, dev.ID)
	homed(t, a, 1)
	sessions := cam.Sessions()

	const bound = clusterDrain + 10*time.Second // cluster_drain + shutdown_timeout's default
	type exit struct {
		took time.Duration
		err  error
	}
	exited := make(chan exit, 1)
	// A viewer on B, fed from A, watches through the drain: its session
	// ends when A hands the camera off (the feed's sealed end), rather than
	// hanging without frames.
	var sigterm time.Time
	ended := watchUntilEnded(t, onB, func() {
		sigterm = time.Now()
		go func() {
			took, err := a.Term(bound + 5*time.Second)
			exited <- exit{took, err}
		}()
		testkit.WaitFor(t, clusterDrain, "A's /healthz answering 503 draining", func() error {
			code, body, err := healthz(ctx, a)
			if err != nil || code != http.StatusServiceUnavailable || !strings.Contains(body, `"draining"`) {
				return fmt.Errorf("%d %q, %v", code, body, err)
			}
			return nil
		})
		if m, err := a.Metrics(ctx, "vigil_cluster_draining"); err != nil || m["vigil_cluster_draining"] != 1 {
			t.Errorf("A's vigil_cluster_draining while draining: %v, %v; want 1", m, err)
		}
	})
	t.Logf("the viewer on B fed from A ended %v after A's SIGTERM", ended.Sub(sigterm).Round(time.Millisecond))
	testkit.WaitFor(t, 15*time.Second, "the camera reconnecting", func() error {
		if cam.Sessions() <= sessions {
			return fmt.Errorf("%d sessions", cam.Sessions())
		}
		return nil
	})
	ffmpegStamps(t, onB, dev.ID)
	homed(t, b, 1)
	e := <-exited
	t.Logf("A exited %v after SIGTERM (bound %v): %v", e.took.Round(time.Millisecond), bound, e.err)
	if e.err != nil || e.took > bound {
		t.Fatalf("A after SIGTERM: exited after %v, %v; want status 0 within %v", e.took, e.err, bound)
	}
	if len(a.LogLines(`released=1`)) == 0 {
		t.Fatal("A's log does not say it released the camera's claim while draining")
	}
}

// homed waits until p holds n camera claims.
func homed(t *testing.T, p *vigilproc.Proc, n float64) {
	t.Helper()
	testkit.WaitFor(t, 10*time.Second, fmt.Sprintf("%s homing %v streams", p.Base(), n), func() error {
		m, err := p.Metrics(t.Context(), "vigil_cluster_streams_homed")
		if err != nil || m["vigil_cluster_streams_homed"] != n {
			return fmt.Errorf("%v, %v", m, err)
		}
		return nil
	})
}

// healthz reads p's /healthz.
func healthz(ctx context.Context, p *vigilproc.Proc) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", p.Base()+"/healthz", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	return res.StatusCode, string(body), err
}

// healthBalancer is an L4 balancer on loopback in front of the nodes'
// RTSP ports, as an operator's would be: each connection goes to the
// first node whose /healthz answers 200. It returns its address.
func healthBalancer(t *testing.T, nodes ...*vigilproc.Proc) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go loopback.Balance(l, func() []string {
		var up []string
		for _, p := range nodes {
			if code, _, err := healthz(context.Background(), p); err == nil && code == http.StatusOK {
				up = append(up, p.RTSP())
			}
		}
		return up
	})
	return l.Addr().String()
}
