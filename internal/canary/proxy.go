package canary

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/Shopify/toxiproxy/v2"
	"github.com/Shopify/toxiproxy/v2/collectors"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// proxies are the toxiproxies every byte of the run passes through: the
// cameras' RTSP, the viewers' RTSP and the HTTP of viewers and uploads.
type proxies struct {
	camera, rtsp, http *toxiproxy.Proxy

	mu     sync.Mutex
	toxics map[*toxiproxy.Proxy][]string // guarded by mu; toxics added and not yet removed
}

func newProxies(s *server) (*proxies, error) {
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	srv.Metrics.ProxyMetrics = collectors.NewProxyMetricCollectors()
	p := &proxies{toxics: map[*toxiproxy.Proxy][]string{}}
	for _, x := range []struct {
		dst      **toxiproxy.Proxy
		name, up string
	}{{&p.camera, "camera-rtsp", s.rtsp}, {&p.rtsp, "viewer-rtsp", s.rtsp}, {&p.http, "http", s.http}} {
		*x.dst = toxiproxy.NewProxy(srv, x.name, "127.0.0.1:0", x.up)
		if err := (*x.dst).Start(); err != nil {
			p.close()
			return nil, fmt.Errorf("canary: proxy %s: %w", x.name, err)
		}
	}
	return p, nil
}

func (p *proxies) close() {
	for _, x := range []*toxiproxy.Proxy{p.camera, p.rtsp, p.http} {
		if x != nil {
			x.Stop()
		}
	}
}

// add puts a toxic on a proxy: kind is toxiproxy's type, attrs its
// attributes as JSON, toxicity the share of connections it affects.
func (p *proxies) add(x *toxiproxy.Proxy, name, kind, stream string, toxicity float64, attrs string) error {
	js := fmt.Sprintf(`{"name":%q,"type":%q,"stream":%q,"toxicity":%g,"attributes":%s}`, name, kind, stream, toxicity, attrs)
	if _, err := x.Toxics.AddToxicJson(strings.NewReader(js)); err != nil {
		return fmt.Errorf("canary: toxic %s on %s: %w", name, x.Name, err)
	}
	p.mu.Lock()
	p.toxics[x] = append(p.toxics[x], name)
	p.mu.Unlock()
	return nil
}

// clear removes every toxic added.
func (p *proxies) clear() {
	p.mu.Lock()
	all := p.toxics
	p.toxics = map[*toxiproxy.Proxy][]string{}
	p.mu.Unlock()
	for x, names := range all {
		for _, n := range names {
			x.Toxics.RemoveToxic(context.Background(), n)
		}
	}
}
