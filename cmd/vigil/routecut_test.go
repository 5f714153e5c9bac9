package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/Shopify/toxiproxy/v2"
	"github.com/Shopify/toxiproxy/v2/collectors"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"vigil/internal/sim"
	"vigil/internal/testkit/pgtest"
	"vigil/internal/vigilproc"
)

// routeCut is how long TestClusterRouteCut keeps the routes cut: longer
// than a remote feed's silence (5 s), so the viewer's feed ends.
const routeCut = 8 * time.Second

// TestClusterRouteCut: two nodes whose NATS routes pass through
// toxiproxies. A camera pushes to A, a viewer reads it on B; the routes
// are cut for longer than a feed's silence and restored. Through it no
// node counts an isolation violation, the dead route is logged a few times
// rather than every second, and once the routes are back a viewer on B
// sees the camera's own stamps again.
func TestClusterRouteCut(t *testing.T) {
	zerolog.SetGlobalLevel(zerolog.Disabled)
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	srv.Metrics.ProxyMetrics = collectors.NewProxyMetricCollectors()
	var proxies []*toxiproxy.Proxy
	dsn := pgtest.NewDatabase(t)
	nodes := startClusterVia(t, dsn, 2, func(listen []string) []string {
		var via []string
		for i, l := range listen {
			x := toxiproxy.NewProxy(srv, fmt.Sprintf("route-%d", i), "127.0.0.1:0", l)
			if err := x.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(x.Stop)
			proxies = append(proxies, x)
			via = append(via, x.Listen)
		}
		return via
	})
	a, b := nodes[0], nodes[1]
	ctx := t.Context()
	var dev deviceJSON
	if err := a.CLI(ctx, &dev, "device", "add", "--name", "porch", "--json"); err != nil {
		t.Fatal(err)
	}
	onB := pushAndView(t, dev, a, b)

	routeLines := len(a.LogLines("trying to connect to route")) + len(b.LogLines("trying to connect to route"))
	for _, x := range proxies {
		x.Stop() // closes the route connections and refuses new ones
	}
	time.Sleep(routeCut)
	cutLines := len(a.LogLines("trying to connect to route")) + len(b.LogLines("trying to connect to route")) - routeLines
	for _, x := range proxies {
		if err := x.Start(); err != nil { // the same address again
			t.Fatal(err)
		}
	}
	began := time.Now()
	ffmpegStamps(t, onB, dev.ID)
	t.Logf("routes cut %v: %d route failure lines logged by the two nodes; B's viewer saw the camera again %v after the routes came back",
		routeCut, cutLines, time.Since(began).Round(time.Millisecond))
	if cutLines > 4 {
		t.Errorf("%d route failure lines in %v of a cut route: not rate-limited", cutLines, routeCut)
	}
	for _, p := range nodes {
		m, err := p.Metrics(ctx, "vigil_isolation_violations_total")
		if err != nil {
			t.Fatal(err)
		}
		if v := m["vigil_isolation_violations_total"]; v != 0 {
			t.Errorf("%s counted %v isolation violations", p.Base(), v)
		}
	}
}

// pushAndView starts a stamped camera pushing dev to node home until the
// test ends, and returns the admin's RTSP URL of it on node viewer once
// that shows the camera's own stamps.
func pushAndView(t *testing.T, dev deviceJSON, home, viewer *vigilproc.Proc) string {
	t.Helper()
	cam := &sim.Camera{ID: dev.ID, Key: sim.CameraKey([]byte(clusterSecret), dev.ID), FPS: 15, GOP: 15,
		URL: fmt.Sprintf("rtsp://%s:%s@%s/%s", dev.ID, dev.Password, home.RTSP(), dev.ID)}
	ctx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	go cam.Run(ctx)
	url := fmt.Sprintf("rtsp://admin:%s@%s/%s", viewer.AdminPassword(), viewer.RTSP(), dev.ID)
	ffmpegStamps(t, url, dev.ID)
	return url
}
