package hub

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the hub's Prometheus series, labelled by camera and stream.
type Metrics struct {
	IngestBytes *prometheus.CounterVec
	IngestUnits *prometheus.CounterVec
	Readers     *prometheus.GaugeVec
	Skips       *prometheus.CounterVec
	GOPBytes    *prometheus.GaugeVec
	Rejected    *prometheus.CounterVec
	Violations  prometheus.Counter
}

// NewMetrics registers the hub's series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	labels := []string{"camera", "stream"}
	m := &Metrics{
		IngestBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_ingest_bytes_total", Help: "Media payload bytes received from cameras (rate() gives the ingest bitrate).",
		}, labels),
		IngestUnits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_ingest_units_total", Help: "Access units received from cameras.",
		}, labels),
		Readers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vigil_readers", Help: "Readers attached to a camera stream.",
		}, labels),
		Skips: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_reader_skips_total", Help: "Times a slow reader's queue overflowed and it skipped to the next keyframe.",
		}, labels),
		GOPBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vigil_gop_cache_bytes", Help: "Payload bytes held in a stream's keyframe (GOP) cache: the GOP since the last keyframe and the one before it.",
		}, labels),
		Rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_ingest_rejected_units_total", Help: "Units dropped at ingest (stale publisher session, unknown track).",
		}, labels),
		Violations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_isolation_violations_total", Help: "Objects that reached egress under a grant for another device. Must stay zero.",
		}),
	}
	reg.MustRegister(m.IngestBytes, m.IngestUnits, m.Readers, m.Skips, m.GOPBytes, m.Rejected, m.Violations)
	return m
}
