package webrtc

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"vigil/internal/access"
	"vigil/internal/hub"
)

// Metrics are the WebRTC output's Prometheus series.
type Metrics struct {
	// Sessions counts live sessions, negotiating ones included.
	Sessions prometheus.Gauge
	// Bytes counts RTP bytes (header and payload, before SRTP) sent.
	Bytes prometheus.Counter
	// Ended counts ended sessions by reason.
	Ended *prometheus.CounterVec
	// Switches counts sessions' changes of mode, by the mode changed to
	// (main, sub, keyframes, stills).
	Switches *prometheus.CounterVec
}

// NewMetrics registers the WebRTC series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Sessions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_webrtc_sessions", Help: "Live WebRTC sessions, negotiating ones included.",
		}),
		Bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_webrtc_bytes_total", Help: "RTP bytes (header and payload, before SRTP) sent to WebRTC viewers.",
		}),
		Ended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_webrtc_sessions_ended_total", Help: "Ended WebRTC sessions by reason.",
		}, []string{"reason"}),
		Switches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_webrtc_mode_switches_total",
			Help: "Changes of a WebRTC session's mode as its path allowed, by the mode changed to.",
		}, []string{"to"}),
	}
	reg.MustRegister(m.Sessions, m.Bytes, m.Ended, m.Switches)
	return m
}

// reason names why a session ended, for the Ended label.
func reason(err error) string {
	var mismatch *access.MismatchError
	switch {
	case errors.Is(err, ErrNegotiationTimeout):
		return "negotiation_timeout"
	case errors.Is(err, ErrPeerGone):
		return "peer_gone"
	case errors.Is(err, ErrEnded):
		return "ended"
	case errors.Is(err, ErrServerClosed):
		return "shutdown"
	case errors.Is(err, access.ErrGrantRevoked), errors.Is(err, access.ErrGrantExpired):
		return "grant_ended"
	case errors.Is(err, errEgress), errors.As(err, &mismatch), errors.Is(err, access.ErrNoGrant),
		errors.Is(err, access.ErrBeforeEpoch):
		return "egress_refused"
	case errors.Is(err, hub.ErrOffline), errors.Is(err, hub.ErrReplaced), errors.Is(err, hub.ErrClosed):
		return "camera_gone"
	}
	return "error"
}
