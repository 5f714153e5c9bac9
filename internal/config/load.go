package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// setting is one configurable key and how to set it from text; the same
// table drives the YAML file, the environment and the flags.
type setting struct {
	key   string // YAML key; the env var and flag names derive from it
	usage string
	set   func(c *Config, v string) error
}

// structured reports whether s takes a YAML list of mappings in the file
// (and the same text, usually JSON, in the environment or a flag). Only
// oauth_clients does; its values hold secrets, so errors never echo them.
func (s setting) structured() bool { return s.key == "oauth_clients" }

// shown is how v appears in an error message about s.
func (s setting) shown(v string) string {
	if s.structured() {
		return redacted
	}
	return strconv.Quote(v)
}

func settings() []setting {
	return []setting{
		{"data_dir", "directory for the database and master key", str(func(c *Config) *string { return &c.DataDir })},
		{"store", "sqlite (a file in data_dir, one node) or postgres (store_dsn, shared by nodes)", str(func(c *Config) *StoreKind { return &c.Store })},
		{"store_dsn", "Postgres database for store: postgres (postgres://user:password@host:5432/db)", str(func(c *Config) *Secret { return &c.StoreDSN })},
		{"cluster_node", "this node's name in a cluster (default: none, one node alone)", str(func(c *Config) *string { return &c.ClusterNode })},
		{"cluster_listen", "host:port the embedded NATS server takes the other nodes' routes on", str(func(c *Config) *string { return &c.ClusterListen })},
		{"cluster_routes", "comma-separated cluster_listen addresses of the nodes", list(func(c *Config) *[]string { return &c.ClusterRoutes })},
		{"cluster_advertise", "host:port the other nodes reach this node's routes at, if not cluster_listen", str(func(c *Config) *string { return &c.ClusterAdvertise })},
		{"cluster_secret", "password of the nodes' NATS routes (default: none)", str(func(c *Config) *Secret { return &c.ClusterSecret })},
		{"nats_url", "external NATS cluster with JetStream instead of an embedded server (nats://host:4222)", str(func(c *Config) *Secret { return &c.NATSURL })},
		{"cluster_replicas", "NATS servers keeping each camera's home claim (at most the nodes)", integer(func(c *Config) *int { return &c.ClusterReplicas })},
		{"cluster_drain", "on SIGTERM, the window over which a node hands its cameras to the others", duration(func(c *Config) *time.Duration { return &c.ClusterDrain })},
		{"rtsp_addr", "RTSP TCP listen address", str(func(c *Config) *string { return &c.RTSPAddr })},
		{"rtsp_udp_rtp_addr", "RTSP UDP address for RTP (even port)", str(func(c *Config) *string { return &c.RTSPUDPRTPAddr })},
		{"rtsp_udp_rtcp_addr", "RTSP UDP address for RTCP (RTP port + 1)", str(func(c *Config) *string { return &c.RTSPUDPRTCPAddr })},
		{"http_addr", "HTTP listen address", str(func(c *Config) *string { return &c.HTTPAddr })},
		{"public_host", "host printed in URLs (default: from the listen address)", str(func(c *Config) *string { return &c.PublicHost })},
		{"log_level", "debug, info, warn or error", str(func(c *Config) *LogLevel { return &c.LogLevel })},
		{"log_format", "text or json", str(func(c *Config) *LogFormat { return &c.LogFormat })},
		{"admin_password", "admin password set at start (default: generated once)", str(func(c *Config) *Secret { return &c.AdminPassword })},
		{"reader_queue_units", "access units queued per reader", integer(func(c *Config) *int { return &c.ReaderQueueUnits })},
		{"reader_queue_bytes", "bytes queued per reader (e.g. 16MiB)", size(func(c *Config) *int64 { return &c.ReaderQueueBytes })},
		{"gop_cache_max_bytes", "bytes of GOP cached per stream (e.g. 32MiB)", size(func(c *Config) *int64 { return &c.GOPCacheMaxBytes })},
		{"read_timeout", "network read timeout", duration(func(c *Config) *time.Duration { return &c.ReadTimeout })},
		{"write_timeout", "network write timeout", duration(func(c *Config) *time.Duration { return &c.WriteTimeout })},
		{"shutdown_timeout", "graceful shutdown bound", duration(func(c *Config) *time.Duration { return &c.ShutdownTimeout })},
		{"signup", "let anyone create an account (true or false); otherwise an invitation is needed", boolean(func(c *Config) *bool { return &c.Signup })},
		{"record", "record every enabled camera's main stream, sealed, into data_dir/recordings (true or false)", boolean(func(c *Config) *bool { return &c.Record })},
		{"record_segment", "length of a recorded segment", duration(func(c *Config) *time.Duration { return &c.RecordSegment })},
		{"record_store", "where recordings are kept: empty for data_dir/recordings, or s3://ACCESS:SECRET@host:port/bucket (s3+http:// without TLS)",
			str(func(c *Config) *Secret { return &c.RecordStore })},
		{"record_retain", "how long a camera's footage is kept unless the camera has its own rule (0: whatever its age)",
			duration(func(c *Config) *time.Duration { return &c.RecordRetain })},
		{"record_retain_bytes", "footage kept per camera, oldest deleted first, unless the camera has its own rule (e.g. 50GiB; 0: no cap)",
			size(func(c *Config) *int64 { return &c.RecordRetainBytes })},
		{"record_retain_events", "how long footage an event touches is kept unless the camera has its own rule (the larger of it and record_retain wins)",
			duration(func(c *Config) *time.Duration { return &c.RecordRetainEvents })},
		{"record_grace", "how long a lowered retention rule waits before it deletes anything", duration(func(c *Config) *time.Duration { return &c.RecordGrace })},
		{"record_quota", "footage kept per household over all its cameras, oldest unpinned deleted first, unless the household has its own (e.g. 200GiB; 0: no cap)",
			size(func(c *Config) *int64 { return &c.RecordQuota })},
		{"record_min_free", "free disk space below which the oldest unpinned footage of every household is deleted (local disk only; 0: off)",
			size(func(c *Config) *int64 { return &c.RecordMinFree })},
		{"cors_origins", "comma-separated origins allowed to fetch media (Cast receivers)", list(func(c *Config) *[]string { return &c.CORSOrigins })},
		{"oauth_clients", "services that may link accounts: a YAML or JSON list of {id, secret, redirect_uris, kind, name; for alexa vendor_id, events_client_id, events_client_secret}",
			oauthClients(func(c *Config) *[]OAuthClient { return &c.OAuthClients })},
		{"public_url", "https origin devices on the internet reach Vigil at (Google stream URLs)", str(func(c *Config) *string { return &c.PublicURL })},
		{"alexa_lwa_url", "Login with Amazon token endpoint (Alexa's AcceptGrant and event tokens)", str(func(c *Config) *string { return &c.AlexaLWAURL })},
		{"alexa_events_url", "Alexa event gateway of North America", str(func(c *Config) *string { return &c.AlexaEventsURL })},
		{"alexa_events_url_eu", "Alexa event gateway of Europe and India", str(func(c *Config) *string { return &c.AlexaEventsURLEU })},
		{"alexa_silence", "how long an unused Alexa link lasts", duration(func(c *Config) *time.Duration { return &c.AlexaSilence })},
		{"alexa_events_url_fe", "Alexa event gateway of the Far East", str(func(c *Config) *string { return &c.AlexaEventsURLFE })},
		{"alexa_proxy_secret", "secret the Alexa skill's Lambda (vigil-alexa-lambda) sends in X-Vigil-Proxy-Secret (default: none, not required)", str(func(c *Config) *Secret { return &c.AlexaProxySecret })},
		{"homegraph_url", "Google HomeGraph API origin", str(func(c *Config) *string { return &c.HomeGraphURL })},
		{"homegraph_token", "bearer token for HomeGraph calls (default: none, nothing reported)", str(func(c *Config) *Secret { return &c.HomeGraphToken })},
		{"homegraph_credentials_file", "Google service account key file (JSON) to sign in to HomeGraph with", str(func(c *Config) *string { return &c.HomeGraphCredentialsFile })},
		{"webrtc_ice_servers", "comma-separated STUN/TURN URLs for WebRTC behind NAT", list(func(c *Config) *[]string { return &c.WebRTCICEServers })},
		{"webrtc_ice_username", "TURN user name", str(func(c *Config) *string { return &c.WebRTCICEUsername })},
		{"webrtc_ice_credential", "TURN password", str(func(c *Config) *Secret { return &c.WebRTCICECredential })},
		{"webrtc_host_addresses", "comma-separated IPs advertised instead of the host's (1:1 NAT)", list(func(c *Config) *[]string { return &c.WebRTCHostAddresses })},
		{"webrtc_udp_port_min", "lowest UDP port of WebRTC candidates (0: any)", integer(func(c *Config) *int { return &c.WebRTCUDPPortMin })},
		{"webrtc_udp_port_max", "highest UDP port of WebRTC candidates (0: any)", integer(func(c *Config) *int { return &c.WebRTCUDPPortMax })},
		{"webrtc_negotiation_timeout", "time a WebRTC viewer has to connect after the answer", duration(func(c *Config) *time.Duration { return &c.WebRTCNegotiationTimeout })},
		{"webrtc_disconnected_timeout", "silence after which a WebRTC session ends", duration(func(c *Config) *time.Duration { return &c.WebRTCDisconnectedTimeout })},
		{"webrtc_max_sessions", "WebRTC sessions allowed", integer(func(c *Config) *int { return &c.WebRTCMaxSessions })},
		{"webrtc_max_sessions_per_user", "WebRTC sessions allowed per user", integer(func(c *Config) *int { return &c.WebRTCMaxSessionsPerUser })},

		{"trusted_proxies", "comma-separated CIDR prefixes of reverse proxies whose X-Forwarded-For is believed",
			list(func(c *Config) *[]string { return &c.TrustedProxies })},
		// Limits.
		{"http_read_header_timeout", "time a client has to send a request's headers", duration(func(c *Config) *time.Duration { return &c.HTTPReadHeaderTimeout })},
		{"http_body_timeout", "time a client has to send a request's body", duration(func(c *Config) *time.Duration { return &c.HTTPBodyTimeout })},
		{"http_idle_timeout", "time a keep-alive connection may wait for its next request", duration(func(c *Config) *time.Duration { return &c.HTTPIdleTimeout })},
		{"http_max_conns_per_address", "open HTTP connections allowed per client address", integer(func(c *Config) *int { return &c.HTTPMaxConnsPerAddress })},
		{"http_max_outputs_per_user", "live.mp4 and MJPEG responses open at once per user", integer(func(c *Config) *int { return &c.HTTPMaxOutputsPerUser })},
		{"rtsp_first_request_timeout", "time a new RTSP connection has to send its first request", duration(func(c *Config) *time.Duration { return &c.RTSPFirstRequestTimeout })},
		{"rtsp_idle_timeout", "silence after which an RTSP connection or session not receiving media ends", duration(func(c *Config) *time.Duration { return &c.RTSPIdleTimeout })},
		{"rtsp_max_conns_per_address", "open RTSP connections allowed per client address", integer(func(c *Config) *int { return &c.RTSPMaxConnsPerAddress })},
		{"tls", "acme (automatic certificates), files (tls_cert_file, tls_key_file) or off (plain, or behind a proxy)", str(func(c *Config) *TLSMode { return &c.TLS })},
		{"https_addr", "HTTPS and RTSP-over-TLS listen address (with tls on)", str(func(c *Config) *string { return &c.HTTPSAddr })},
		{"rtsps_addr", "RTSPS listen address (with tls on)", str(func(c *Config) *string { return &c.RTSPSAddr })},
		{"rtsp_plain", "serve plain RTSP on rtsp_addr (false: RTSPS only)", boolean(func(c *Config) *bool { return &c.RTSPPlain })},
		{"tls_domains", "comma-separated names of the ACME certificate (default: public_host, else public_url's host)", list(func(c *Config) *[]string { return &c.TLSDomains })},
		{"tls_cert_file", "PEM certificate chain for tls: files (reloaded when it changes)", str(func(c *Config) *string { return &c.TLSCertFile })},
		{"tls_key_file", "PEM private key for tls: files", str(func(c *Config) *string { return &c.TLSKeyFile })},
		{"acme_directory", "ACME CA directory URL", str(func(c *Config) *string { return &c.ACMEDirectory })},
		{"acme_email", "contact address given to the ACME CA", str(func(c *Config) *string { return &c.ACMEEmail })},
		{"acme_ca_root", "PEM CA trusted for the ACME directory's https, for tests against a private CA (Pebble) only", str(func(c *Config) *string { return &c.ACMECARoot })},
	}
}

func boolean(field func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return errors.New("want true or false")
		}
		*field(c) = b
		return nil
	}
}

// list parses a comma-separated list; empty items are dropped.
func list(field func(*Config) *[]string) func(*Config, string) error {
	return func(c *Config, v string) error {
		var out []string
		for item := range strings.SplitSeq(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				out = append(out, item)
			}
		}
		*field(c) = out
		return nil
	}
}

func str[T ~string](field func(*Config) *T) func(*Config, string) error {
	return func(c *Config, v string) error { *field(c) = T(v); return nil }
}

func integer(field func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return errors.New("want a whole number")
		}
		*field(c) = n
		return nil
	}
}

// size parses a byte count (ParseSize).
func size(field func(*Config) *int64) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := ParseSize(v)
		if err != nil {
			return err
		}
		*field(c) = n
		return nil
	}
}

// ParseSize parses a byte count: a whole number with an optional KiB, MiB
// or GiB suffix.
func ParseSize(v string) (int64, error) {
	s, mul := strings.TrimSpace(v), int64(1)
	for suffix, m := range map[string]int64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30} {
		if rest, ok := strings.CutSuffix(s, suffix); ok {
			s, mul = strings.TrimSpace(rest), m
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mul {
		return 0, errors.New("want a byte count such as 16777216 or 16MiB")
	}
	return n * mul, nil
}

func duration(field func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			return errors.New("want a duration such as 10s or 1m30s")
		}
		*field(c) = d
		return nil
	}
}

func envName(key string) string  { return "VIGIL_" + strings.ToUpper(key) }
func flagName(key string) string { return strings.ReplaceAll(key, "_", "-") }

// Flags collects configuration flags from one or more FlagSets (the
// command line before a subcommand and after it) and builds the Config
// from them. Later flags win.
type Flags struct {
	path    string
	flagged []flagValue // applied after the file and environment, in order
}

type flagValue struct {
	s setting
	v string
}

// Register adds --config and a flag per setting to fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.Func("config", "YAML config `file` (or VIGIL_CONFIG)", func(v string) error { f.path = v; return nil })
	for _, s := range settings() {
		fs.Func(flagName(s.key), s.usage, func(v string) error {
			f.flagged = append(f.flagged, flagValue{s, v})
			return nil
		})
	}
}

// Load returns the configuration built from, in increasing precedence: the
// defaults, the YAML file named by --config (or VIGIL_CONFIG), VIGIL_*
// variables in environ (empty values are ignored), and the flags in args.
//
// It also returns the arguments left after the flags (a subcommand and its
// own arguments). The error joins every problem found, Validate's included;
// with -h or --help it wraps flag.ErrHelp and carries the usage text.
func Load(args, environ []string) (Config, []string, error) {
	fs := flag.NewFlagSet("vigil", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var f Flags
	f.Register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return Default(), nil, fmt.Errorf("%w\n%s", err, Help())
		}
		return Default(), nil, fmt.Errorf("%w; run `vigil -h` to list the flags", err)
	}
	cfg, err := f.Config(environ)
	return cfg, fs.Args(), err
}

// Config builds the configuration from the defaults, the file, environ and
// the flags parsed so far, and validates it.
func (f *Flags) Config(environ []string) (Config, error) {
	cfg := Default()
	table := settings()
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "VIGIL_") && v != "" {
			env[k] = v
		}
	}

	var errs []error
	path := f.path
	if path == "" {
		path = env["VIGIL_CONFIG"]
	}
	if path != "" {
		errs = append(errs, loadFile(&cfg, path, table)...)
	}
	for _, s := range table {
		name := envName(s.key)
		if v, ok := env[name]; ok {
			if err := s.set(&cfg, v); err != nil {
				errs = append(errs, fmt.Errorf("environment %s=%s: %w", name, s.shown(v), err))
			}
		}
	}
	for _, fv := range f.flagged {
		if err := fv.s.set(&cfg, fv.v); err != nil {
			errs = append(errs, fmt.Errorf("flag --%s=%s: %w", flagName(fv.s.key), fv.s.shown(fv.v), err))
		}
	}
	if len(errs) == 0 {
		errs = append(errs, cfg.Validate())
	}
	return cfg, errors.Join(errs...)
}

// Help lists every setting: its flag, environment variable and YAML key,
// what it does and its default.
func Help() string {
	var b strings.Builder
	b.WriteString("Settings (flag, environment variable, YAML key; later sources win: defaults, file, environment, flags):\n\n")
	b.WriteString("  --config FILE  (VIGIL_CONFIG)\n      YAML config file\n")
	for _, s := range settings() {
		fmt.Fprintf(&b, "  --%s  (%s, %s)\n      %s (default: %s)\n", flagName(s.key), envName(s.key), s.key, s.usage, DefaultText(s.key))
	}
	return b.String()
}

// loadFile applies the YAML mapping in path to c. Unknown and repeated keys
// are errors, so a typo never silently falls back to a default.
func loadFile(c *Config, path string, table []setting) []error {
	data, err := os.ReadFile(path)
	if err != nil {
		return []error{fmt.Errorf("config file: %w; fix the path given with --config or VIGIL_CONFIG", err)}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return []error{fmt.Errorf("config file %s: %w", path, err)}
	}
	if len(doc.Content) == 0 {
		return nil // empty file
	}
	m := doc.Content[0]
	if m.Kind != yaml.MappingNode {
		return []error{fmt.Errorf("config file %s: want a mapping of key: value lines", path)}
	}
	byKey := make(map[string]setting, len(table))
	for _, s := range table {
		byKey[s.key] = s
	}
	var errs []error
	seen := map[string]bool{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		where := fmt.Sprintf("config file %s line %d", path, k.Line)
		s, ok := byKey[k.Value]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%s: unknown key %q; run `vigil -h` to list the keys", where, k.Value))
			continue
		case seen[k.Value]:
			errs = append(errs, fmt.Errorf("%s: key %q repeated; keep one", where, k.Value))
			continue
		case v.Kind != yaml.ScalarNode && !s.structured():
			errs = append(errs, fmt.Errorf("%s: %s must be a single value", where, k.Value))
			continue
		}
		seen[k.Value] = true
		val, err := nodeText(v, s.structured())
		if err == nil {
			err = s.set(c, val)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s %s: %w", where, k.Value, s.shown(val), err))
		}
	}
	return errs
}

// nodeText is the text a setting parses: a scalar's value ("" for null),
// or for structured settings the node written back as YAML.
func nodeText(v *yaml.Node, structured bool) (string, error) {
	if v.Tag == "!!null" {
		return "", nil
	}
	if !structured || v.Kind == yaml.ScalarNode {
		return v.Value, nil
	}
	b, err := yaml.Marshal(v)
	return string(b), err
}
