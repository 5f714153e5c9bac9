package config

import (
	"strconv"
	"time"
)

// validateLimits checks the connection and output limits, reporting each
// problem with bad. Every limit must be set: zero would mean "no limit",
// which is what these keys exist to prevent.
func (c Config) validateLimits(bad func(key, value, problem, want string)) {
	for _, d := range []struct {
		key   string
		value time.Duration
		want  string
	}{
		{"http_read_header_timeout", c.HTTPReadHeaderTimeout, "a duration such as 10s"},
		{"http_body_timeout", c.HTTPBodyTimeout, "a duration such as 30s"},
		{"http_idle_timeout", c.HTTPIdleTimeout, "a duration such as 60s"},
		{"rtsp_first_request_timeout", c.RTSPFirstRequestTimeout, "a duration such as 10s"},
		{"rtsp_idle_timeout", c.RTSPIdleTimeout, "a duration such as 60s"},
	} {
		if d.value <= 0 {
			bad(d.key, d.value.String(), "must be greater than zero", d.want)
		}
	}
	for _, n := range []struct {
		key   string
		value int
		want  string
	}{
		{"http_max_conns_per_address", c.HTTPMaxConnsPerAddress, "a number of connections such as 256"},
		{"http_max_outputs_per_user", c.HTTPMaxOutputsPerUser, "a number of outputs such as 16"},
		{"rtsp_max_conns_per_address", c.RTSPMaxConnsPerAddress, "a number of connections such as 256 (a camera holds one per stream)"},
	} {
		if n.value <= 0 {
			bad(n.key, strconv.Itoa(n.value), "must be greater than zero", n.want)
		}
	}
}
