package app

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Shopify/toxiproxy/v2"
	"github.com/Shopify/toxiproxy/v2/collectors"
	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/pion/rtp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"vigil/internal/testkit"
)

// throttledProxy puts a toxiproxy in front of upstream that lets only
// rateKB kilobytes per second through towards the client.
func throttledProxy(t *testing.T, upstream string, rateKB int) string {
	t.Helper()
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	srv.Metrics.ProxyMetrics = collectors.NewProxyMetricCollectors()
	p := toxiproxy.NewProxy(srv, "slow-reader", "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	toxic := `{"name":"trickle","type":"bandwidth","stream":"downstream","attributes":{"rate":` +
		strconv.Itoa(rateKB) + `}}`
	if _, err := p.Toxics.AddToxicJson(strings.NewReader(toxic)); err != nil {
		t.Fatal(err)
	}
	return p.Listen
}

// countFrames reads url over TCP and counts complete video access units
// (RTP marker bits) until ctx ends.
func countFrames(ctx context.Context, t *testing.T, url string, n *atomic.Int64) {
	u, _ := base.ParseURL(url)
	c := gortsplib.Client{Scheme: u.Scheme, Host: u.Host, ReadTimeout: 60 * time.Second}
	tcp := gortsplib.ProtocolTCP
	c.Protocol = &tcp
	if err := c.Start(); err != nil {
		t.Error(err)
		return
	}
	defer c.Close()
	desc, _, err := c.Describe(u)
	if err != nil {
		t.Error(err)
		return
	}
	var forma *format.H264
	medi := desc.FindFormat(&forma)
	if _, err := c.Setup(desc.BaseURL, medi, 0, 0); err != nil {
		t.Error(err)
		return
	}
	c.OnPacketRTP(medi, forma, func(p *rtp.Packet) {
		if p.Marker {
			n.Add(1)
		}
	})
	if _, err := c.Play(nil); err != nil {
		t.Error(err)
		return
	}
	<-ctx.Done()
}

func TestThrottledReaderDoesNotSlowOthers(t *testing.T) {
	a := startApp(t, "", nil)
	cam := a.addCamera(t, "busy")
	// 640x480 keyframes of raw macroblocks every second: ~3.7 Mbit/s. A
	// reader held to 150 KB/s gets each keyframe through within the write
	// timeout but falls further behind live every second, so it must skip.
	cam.Width, cam.Height, cam.FPS, cam.GOP = 640, 480, 15, 15
	a.run(t, cam)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	proxy := throttledProxy(t, a.RTSPAddr().String(), 150)
	var slow, fast1, fast2 atomic.Int64
	go countFrames(ctx, t, "rtsp://"+AdminName+":"+adminPassword+"@"+proxy+"/"+cam.ID, &slow)
	go countFrames(ctx, t, a.rtspURL(AdminName, adminPassword, cam.ID), &fast1)
	go countFrames(ctx, t, a.rtspURL(AdminName, adminPassword, cam.ID), &fast2)

	skips := a.hub.Metrics().Skips.WithLabelValues(cam.ID, "main")
	var heapPeak uint64
	testkit.WaitFor(t, 60*time.Second, "skip by the throttled reader", func() error {
		if testutil.ToFloat64(skips) == 0 {
			return errors.New("none counted")
		}
		return nil
	})
	// Measure the other readers' frame rate while the slow one keeps skipping.
	f1, f2 := fast1.Load(), fast2.Load()
	window := 5 * time.Second
	for end := time.Now().Add(window); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		heapPeak = max(heapPeak, ms.HeapInuse)
	}
	want := 15 * window.Seconds() * 0.85
	for i, got := range []float64{float64(fast1.Load() - f1), float64(fast2.Load() - f2)} {
		if got < want {
			t.Errorf("fast reader %d got %.0f frames in %v, want >= %.0f (15 fps)", i+1, got, window, want)
		}
	}
	if heapPeak > 256<<20 {
		t.Errorf("heap in use peaked at %d MiB: reader queues are not bounded", heapPeak>>20)
	}
	t.Logf("slow reader: %d frames, skips %.0f; fast: %d, %d; heap peak %d MiB",
		slow.Load(), testutil.ToFloat64(skips), fast1.Load(), fast2.Load(), heapPeak>>20)
}
