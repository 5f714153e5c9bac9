package hls

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the HLS output's Prometheus series, labelled by variant.
type Metrics struct {
	// Muxers counts running muxers.
	Muxers *prometheus.GaugeVec
	// MuxersStarted counts muxers started: one that keeps restarting means
	// its viewers' playlists keep starting over.
	MuxersStarted *prometheus.CounterVec
	// Requests counts requests being served. HLS has no sessions; a
	// Low-Latency viewer holds about one blocking playlist request at a
	// time, so this is the closest this package can come to a viewers gauge
	// (httpapi, which knows tokens and users, can count viewers exactly).
	Requests *prometheus.GaugeVec
	// Bytes counts response bytes of playlists, segments and parts.
	Bytes *prometheus.CounterVec
	// EncodeErrors counts units a muxer refused (gohlslib write errors).
	EncodeErrors *prometheus.CounterVec
}

// NewMetrics registers the HLS series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	labels := []string{"variant"}
	m := &Metrics{
		Muxers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vigil_hls_muxers", Help: "Running HLS muxers, one per camera stream and muxer variant (ll also serves fmp4).",
		}, labels),
		MuxersStarted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_hls_muxers_started_total", Help: "HLS muxers started.",
		}, labels),
		Requests: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vigil_hls_requests_in_flight", Help: "HLS requests being served, blocking playlist reloads included.",
		}, labels),
		Bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_hls_bytes_total", Help: "Bytes of HLS playlists, segments and parts sent to viewers.",
		}, labels),
		EncodeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_hls_encode_errors_total", Help: "Units an HLS muxer refused.",
		}, labels),
	}
	reg.MustRegister(m.Muxers, m.MuxersStarted, m.Requests, m.Bytes, m.EncodeErrors)
	return m
}
