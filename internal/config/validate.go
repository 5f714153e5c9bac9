package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// minAdminPassword is the shortest AdminPassword accepted.
const minAdminPassword = 8

// Validate reports every problem with c at once, joined with errors.Join.
// Each message names the key, what is wrong and how to fix it.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, value, problem, want string) {
		errs = append(errs, fmt.Errorf("%s %q: %s; set %s (or %s) to %s",
			key, value, problem, key, envName(key), want))
	}

	if strings.TrimSpace(c.DataDir) == "" {
		bad("data_dir", c.DataDir, "must not be empty", "a directory path")
	}
	for _, o := range []struct{ key, u string }{{"public_url", c.PublicURL}, {"homegraph_url", c.HomeGraphURL}} {
		if o.u != "" && !isOrigin(o.u) {
			bad(o.key, o.u, "is not an origin", "scheme://host[:port] with no path, e.g. https://vigil.example.com")
		}
	}
	for _, o := range []struct{ key, u, want string }{
		{"alexa_lwa_url", c.AlexaLWAURL, "Login with Amazon's token endpoint, https://api.amazon.com/auth/o2/token"},
		{"alexa_events_url", c.AlexaEventsURL, "North America's event gateway, https://api.amazonalexa.com/v3/events"},
		{"alexa_events_url_eu", c.AlexaEventsURLEU, "Europe's event gateway, https://api.eu.amazonalexa.com/v3/events"},
		{"alexa_events_url_fe", c.AlexaEventsURLFE, "the Far East's event gateway, https://api.fe.amazonalexa.com/v3/events"},
	} {
		if u, err := url.Parse(o.u); o.u != "" && (err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "") {
			bad(o.key, o.u, "is not an http(s) URL", o.want)
		}
	}
	if n := len(c.AlexaProxySecret.Reveal()); n > 0 && n < 16 {
		bad("alexa_proxy_secret", "(redacted)", "is shorter than 16 characters", "a long random secret, the Lambda's VIGIL_PROXY_SECRET")
	}
	for _, o := range c.CORSOrigins {
		if !isOrigin(o) {
			bad("cors_origins", o, "is not an origin", "comma-separated origins such as https://cast.example.com")
		}
	}

	// TCP listeners may use port 0 (a free port, as tests do); the UDP pair
	// must be fixed because RTSP clients are told the ports.
	tcp := []struct{ key, addr string }{{"rtsp_addr", c.RTSPAddr}, {"http_addr", c.HTTPAddr}}
	for _, a := range tcp {
		if _, problem := checkAddr(a.addr, 0); problem != "" {
			bad(a.key, a.addr, problem, "host:port")
		}
	}
	rtp, rtpProblem := checkAddr(c.RTSPUDPRTPAddr, 1)
	rtcp, rtcpProblem := checkAddr(c.RTSPUDPRTCPAddr, 1)
	switch {
	case rtpProblem != "":
		bad("rtsp_udp_rtp_addr", c.RTSPUDPRTPAddr, rtpProblem, "host:port")
	case rtp%2 != 0:
		bad("rtsp_udp_rtp_addr", c.RTSPUDPRTPAddr, "port must be even (RTP uses the even port of a pair)", "host:port with an even port")
	}
	switch {
	case rtcpProblem != "":
		bad("rtsp_udp_rtcp_addr", c.RTSPUDPRTCPAddr, rtcpProblem, "host:port")
	case rtpProblem == "" && rtcp != rtp+1:
		bad("rtsp_udp_rtcp_addr", c.RTSPUDPRTCPAddr, "port must be the RTP port plus one",
			"host:"+strconv.Itoa(rtp+1))
	}

	if h := c.PublicHost; h != "" && net.ParseIP(h) == nil && strings.ContainsAny(h, ":/@?# \t") {
		bad("public_host", h, "must be a bare host name or IP address, without scheme or port", "a host such as cams.example.com")
	}

	c.validateCluster(bad)
	c.validateWebRTC(bad)
	c.validateTrustedProxies(bad)
	c.validateLimits(bad)
	errs = append(errs, c.validateTLS(bad)...)

	errs = append(errs, c.validateStore()...)
	if err := c.LogLevel.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("log_level: %w; set log_level (or %s) to one of them", err, envName("log_level")))
	}
	if err := c.LogFormat.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("log_format: %w; set log_format (or %s) to one of them", err, envName("log_format")))
	}

	if n := len(c.AdminPassword.Reveal()); n > 0 && n < minAdminPassword {
		errs = append(errs, fmt.Errorf("admin_password: must be at least %d characters; set admin_password (or %s) to a longer password, or leave it empty to have one generated",
			minAdminPassword, envName("admin_password")))
	}

	errs = append(errs, c.validateOAuthClients()...)

	positive := []struct {
		key   string
		value int64
		want  string
	}{
		{"reader_queue_units", int64(c.ReaderQueueUnits), "a number of access units such as 512"},
		{"reader_queue_bytes", c.ReaderQueueBytes, "a size such as 16MiB"},
		{"gop_cache_max_bytes", c.GOPCacheMaxBytes, "a size such as 32MiB"},
		{"read_timeout", int64(c.ReadTimeout), "a duration such as 10s"},
		{"write_timeout", int64(c.WriteTimeout), "a duration such as 10s"},
		{"shutdown_timeout", int64(c.ShutdownTimeout), "a duration such as 10s"},
		{"webrtc_negotiation_timeout", int64(c.WebRTCNegotiationTimeout), "a duration such as 15s"},
		{"webrtc_disconnected_timeout", int64(c.WebRTCDisconnectedTimeout), "a duration such as 10s"},
		{"webrtc_max_sessions", int64(c.WebRTCMaxSessions), "a number of sessions such as 256"},
		{"webrtc_max_sessions_per_user", int64(c.WebRTCMaxSessionsPerUser), "a number of sessions such as 16"},
		{"alexa_silence", int64(c.AlexaSilence), "a duration such as 1440h (60 days)"},
	}
	shown := map[string]string{
		"read_timeout":     c.ReadTimeout.String(),
		"write_timeout":    c.WriteTimeout.String(),
		"shutdown_timeout": c.ShutdownTimeout.String(),
		"alexa_silence":    c.AlexaSilence.String(),

		"webrtc_negotiation_timeout":  c.WebRTCNegotiationTimeout.String(),
		"webrtc_disconnected_timeout": c.WebRTCDisconnectedTimeout.String(),
	}
	if rs := c.RecordStore.Reveal(); rs != "" && !strings.HasPrefix(rs, "s3://") && !strings.HasPrefix(rs, "s3+http://") {
		bad("record_store", "(hidden)", "must be empty or an s3:// or s3+http:// URL", "s3://ACCESS:SECRET@host:port/bucket")
	}
	if c.RecordRetain < 0 || c.RecordRetainBytes < 0 {
		bad("record_retain", c.RecordRetain.String(), "record_retain and record_retain_bytes cannot be negative", "0 (keep), 168h, 50GiB")
	}
	if c.RecordRetainEvents < 0 || c.RecordGrace < 0 {
		bad("record_retain_events", c.RecordRetainEvents.String(), "record_retain_events and record_grace cannot be negative", "720h, 24h")
	}
	if c.RecordQuota < 0 || c.RecordMinFree < 0 {
		bad("record_quota", fmt.Sprint(c.RecordQuota), "record_quota and record_min_free cannot be negative", "0 (no cap), 200GiB, 1GiB")
	}
	if c.Record && c.RecordSegment <= 0 {
		bad("record_segment", c.RecordSegment.String(), "must be greater than zero when record is on", "a duration such as 1m")
	}
	for _, p := range positive {
		if p.value <= 0 {
			v, ok := shown[p.key]
			if !ok {
				v = strconv.FormatInt(p.value, 10)
			}
			bad(p.key, v, "must be greater than zero", p.want)
		}
	}
	return errors.Join(errs...)
}

// validateStore checks that store names a kind and that store_dsn is set
// exactly when it is used.
func (c Config) validateStore() []error {
	if err := c.Store.Validate(); err != nil {
		return []error{fmt.Errorf("store: %w; set store (or %s) to one of them", err, envName("store"))}
	}
	dsn := strings.TrimSpace(c.StoreDSN.Reveal()) != ""
	switch {
	case c.Store == StorePostgres && !dsn:
		return []error{fmt.Errorf("store_dsn: must be set with store: postgres; set store_dsn (or %s) to postgres://user:password@host:5432/vigil",
			envName("store_dsn"))}
	case c.Store == StoreSQLite && dsn:
		return []error{fmt.Errorf("store_dsn: is set but store is sqlite, which keeps its file in data_dir; set store (or %s) to postgres, or clear store_dsn",
			envName("store"))}
	}
	return nil
}

// checkAddr checks a host:port listen address and returns its port, or a
// description of what is wrong with it.
func checkAddr(addr string, minPort int) (int, string) {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, "not a host:port address"
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < minPort || port > 65535 {
		if minPort == 0 {
			return 0, "port must be 0-65535 (0 picks a free port)"
		}
		return 0, fmt.Sprintf("port must be %d-65535", minPort)
	}
	return port, ""
}

// isOrigin reports whether s is scheme://host[:port] (http or https) and
// nothing more.
func isOrigin(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" &&
		u.Path == "" && u.RawQuery == "" && u.User == nil && u.Fragment == ""
}
