package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// requestMetrics are the operators' HTTP series, by route (the pattern the
// request matched, "GET /api/cameras/{id}/still.jpg": never the path, which
// holds ids and tokens) and status code. A nil *requestMetrics counts
// nothing.
type requestMetrics struct {
	total    *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newRequestMetrics(reg *prometheus.Registry) *requestMetrics {
	if reg == nil {
		return nil
	}
	m := &requestMetrics{
		total: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_http_requests_total",
			Help: "HTTP requests answered, by route pattern and status code."}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "vigil_http_request_duration_seconds",
			Help: "Time from a request to the end of its answer, by route pattern (live streams last as long as they are watched)."},
			[]string{"route"}),
	}
	reg.MustRegister(m.total, m.duration)
	return m
}

// instrument counts the requests h answers under route.
func (m *requestMetrics) instrument(route string, h http.Handler) http.Handler {
	if m == nil {
		return h
	}
	total, duration := m.total.MustCurryWith(prometheus.Labels{"route": route}), m.duration.WithLabelValues(route)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			duration.Observe(time.Since(start).Seconds())
			total.WithLabelValues(strconv.Itoa(sw.status())).Inc()
		}()
		h.ServeHTTP(sw, r)
	})
}

// statusWriter notes the status a handler answered with. Unwrap keeps
// http.ResponseController (flushes, write deadlines) working through it.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// status is the code sent, 200 if the handler wrote nothing (net/http's).
func (s *statusWriter) status() int {
	if s.code == 0 {
		return http.StatusOK
	}
	return s.code
}
