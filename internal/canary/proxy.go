package canary

import (
	"fmt"
	"strings"

	"github.com/Shopify/toxiproxy/v2"
	"github.com/Shopify/toxiproxy/v2/collectors"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// A poor path is a proxy whose one toxic stays on for the whole run (a
// connection is made through it, or not): toxiproxy 2.5 can deadlock
// removing a toxic from a link whose peer has stopped reading, so faults
// come and go by choosing the path, never by editing toxics.
type poorPath struct {
	kind  string // the fault kind it injects, as reported
	proxy *toxiproxy.Proxy
}

// proxies are the toxiproxies every byte of the run passes through: the
// cameras' RTSP and uploads, and each node's RTSP and HTTP for viewers,
// each with a clean path and poor ones.
type proxies struct {
	camera, upload *toxiproxy.Proxy // clean paths
	cameraPoor     []poorPath
	view           []viewPaths // by node
	all            []*toxiproxy.Proxy
	// addrs are the proxies' listen addresses, kept apart because
	// toxiproxy rewrites Proxy.Listen on every Start (a storm's restart
	// would race with a visit reading it).
	addrs map[*toxiproxy.Proxy]string
}

// viewPaths are the viewers' paths to one node.
type viewPaths struct {
	rtsp, http         *toxiproxy.Proxy // clean paths
	rtspPoor, httpPoor []poorPath
}

// toxicSpec is one poor path's toxic.
type toxicSpec struct {
	kind, typ, stream, attrs string
}

func viewerToxics() []toxicSpec {
	return []toxicSpec{
		{FaultLatency, "latency", "downstream", `{"latency":150,"jitter":120}`},
		{FaultBandwidth, "bandwidth", "downstream", `{"rate":48}`},
		{FaultSlicer, "slicer", "downstream", `{"average_size":400,"size_variation":300,"delay":200}`},
		{FaultStall, "timeout", "downstream", `{"timeout":4000}`},
		{FaultReset, "reset_peer", "downstream", `{"timeout":3000}`},
	}
}

func cameraToxics() []toxicSpec {
	return []toxicSpec{
		{FaultLatency, "latency", "upstream", `{"latency":80,"jitter":60}`},
		{FaultSlicer, "slicer", "upstream", `{"average_size":600,"size_variation":400,"delay":100}`},
	}
}

func newProxies(s *server) (*proxies, error) {
	// toxiproxy's toxics log through zerolog's global logger at trace level.
	zerolog.SetGlobalLevel(zerolog.Disabled)
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	srv.Metrics.ProxyMetrics = collectors.NewProxyMetricCollectors()
	p := &proxies{addrs: map[*toxiproxy.Proxy]string{}}
	var err error
	start := func(name, upstream string) *toxiproxy.Proxy {
		if err != nil {
			return nil
		}
		var x *toxiproxy.Proxy
		var addr string
		if x, addr, err = startProxy(srv, name, upstream); err != nil {
			return nil
		}
		p.all = append(p.all, x)
		p.addrs[x] = addr
		return x
	}
	poor := func(name, upstream string, specs []toxicSpec) []poorPath {
		var out []poorPath
		for _, t := range specs {
			x := start(name+"-"+t.typ, upstream)
			if x == nil {
				return nil
			}
			js := fmt.Sprintf(`{"name":%q,"type":%q,"stream":%q,"toxicity":1,"attributes":%s}`, t.typ, t.typ, t.stream, t.attrs)
			if _, err2 := x.Toxics.AddToxicJson(strings.NewReader(js)); err2 != nil && err == nil {
				err = fmt.Errorf("canary: toxic %s: %w", t.typ, err2)
			}
			out = append(out, poorPath{kind: t.kind, proxy: x})
		}
		return out
	}
	cameraRTSP, upload, rtsp, http := s.upstreams()
	p.camera, p.upload = start("camera", cameraRTSP), start("upload", upload)
	p.cameraPoor = poor("camera", cameraRTSP, cameraToxics())
	for i := range rtsp {
		n := fmt.Sprintf("-%d", i)
		p.view = append(p.view, viewPaths{rtsp: start("rtsp"+n, rtsp[i]), http: start("http"+n, http[i]),
			rtspPoor: poor("rtsp"+n, rtsp[i], viewerToxics()), httpPoor: poor("http"+n, http[i], viewerToxics())})
	}
	if err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

// addr is where proxy x listens.
func (p *proxies) addr(x *toxiproxy.Proxy) string { return p.addrs[x] }

// cameraPaths are every path cameras publish through.
func (p *proxies) cameraPaths() []*toxiproxy.Proxy {
	out := []*toxiproxy.Proxy{p.camera}
	for _, x := range p.cameraPoor {
		out = append(out, x.proxy)
	}
	return out
}

func (p *proxies) close() {
	for _, x := range p.all {
		x.Stop()
	}
}
