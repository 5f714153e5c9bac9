// Package config owns Vigil's one Config struct: its defaults, how it is read
// from a YAML file, the environment and flags, and how it is validated.
//
// It does not start anything, open files other than the config file, or know
// any other Vigil package; every other package receives the values it needs.
package config

import (
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"
)

// Config is Vigil's configuration. It is a plain value: Load returns it and
// nothing changes it afterwards. Each field's YAML key is shown in its tag; the
// environment variable is VIGIL_ followed by the key in upper case
// (VIGIL_RTSP_ADDR) and the flag is the key with dashes (--rtsp-addr).
type Config struct {
	// DataDir holds the SQLite database and the master key.
	// It defaults to "data".
	DataDir string `yaml:"data_dir"`
	// Store is where accounts, devices, shares and access history live:
	// sqlite (a file in DataDir, for one node) or postgres (StoreDSN's
	// database, which several nodes share). It defaults to sqlite.
	Store StoreKind `yaml:"store"`
	// StoreDSN is the Postgres database when Store is postgres, as a URL
	// (postgres://user:password@host:5432/vigil) or key=value pairs. It
	// defaults to empty.
	StoreDSN Secret `yaml:"store_dsn"`

	// ClusterNode names this node in a cluster of Vigil nodes (unique,
	// such as node-1). With it set, store must be postgres and every node
	// needs the same master key (data_dir/master.key). It defaults to
	// empty: one node alone, without NATS.
	ClusterNode string `yaml:"cluster_node"`
	// ClusterListen is where the embedded NATS server accepts its peers'
	// routes, on the nodes' private network. Required with cluster_node
	// unless nats_url is set. It defaults to empty.
	ClusterListen string `yaml:"cluster_listen"`
	// ClusterRoutes are the cluster_listen addresses of the nodes (this
	// node's own may be listed too, so every node can share one list). It
	// defaults to none.
	ClusterRoutes []string `yaml:"cluster_routes"`
	// ClusterAdvertise, when set, is the host:port the other nodes reach
	// this node's routes at, when that is not cluster_listen (a proxy or
	// NAT between them): the embedded NATS server tells its peers this
	// address, so the routes they find by gossip go the same way as the
	// configured ones. It defaults to empty: cluster_listen.
	ClusterAdvertise string `yaml:"cluster_advertise"`
	// ClusterSecret, when set, is the password the nodes' routes present
	// and require. It defaults to empty: unauthenticated routes.
	ClusterSecret Secret `yaml:"cluster_secret"`
	// NATSURL, when set, is an external NATS cluster with JetStream
	// (nats://host:4222, comma-separated) used instead of an embedded
	// server. It defaults to empty.
	NATSURL Secret `yaml:"nats_url"`
	// ClusterReplicas is how many NATS servers keep the claims of which
	// node is each camera's home. It defaults to 3 (a quorum survives one
	// node's loss); a cluster of fewer nodes needs fewer.
	ClusterReplicas int `yaml:"cluster_replicas"`
	// ClusterDrain is how long a clustered node takes to leave on SIGTERM:
	// /healthz answers 503 "draining" at once, and the node's cameras are
	// handed off (their claims released, their sessions closed) spread
	// over this window, before the shutdown proper (shutdown_timeout). 0
	// hands them all off at once. It defaults to 10s.
	ClusterDrain time.Duration `yaml:"cluster_drain"`

	// RTSPAddr is the RTSP (TCP) listen address. It defaults to ":8554".
	RTSPAddr string `yaml:"rtsp_addr"`
	// RTSPUDPRTPAddr is the UDP address for RTP; its port must be even.
	// It defaults to ":8000".
	RTSPUDPRTPAddr string `yaml:"rtsp_udp_rtp_addr"`
	// RTSPUDPRTCPAddr is the UDP address for RTCP; its port must be the RTP
	// port plus one. It defaults to ":8001".
	RTSPUDPRTCPAddr string `yaml:"rtsp_udp_rtcp_addr"`
	// HTTPAddr is the HTTP listen address. It defaults to ":8080".
	HTTPAddr string `yaml:"http_addr"`

	// PublicHost is the host name or IP put in URLs that Vigil prints.
	// It defaults to "", which means the host of the listen address, or
	// 127.0.0.1 when that host is unspecified (see PublicHostFor).
	PublicHost string `yaml:"public_host"`

	// LogLevel is the minimum level logged. It defaults to info.
	LogLevel LogLevel `yaml:"log_level"`
	// LogFormat is the log line format. It defaults to text.
	LogFormat LogFormat `yaml:"log_format"`

	// AdminPassword, when set, becomes the admin's password at every start.
	// It defaults to empty: if no admin exists, one is created with a
	// generated password that is printed once.
	AdminPassword Secret `yaml:"admin_password"`

	// ReaderQueueUnits bounds each reader's queue in access units.
	// It defaults to 512.
	ReaderQueueUnits int `yaml:"reader_queue_units"`
	// ReaderQueueBytes bounds each reader's queue in bytes.
	// It defaults to 16 MiB.
	ReaderQueueBytes int64 `yaml:"reader_queue_bytes"`
	// GOPCacheMaxBytes bounds the GOP kept per stream, in bytes.
	// It defaults to 32 MiB.
	GOPCacheMaxBytes int64 `yaml:"gop_cache_max_bytes"`

	// ReadTimeout bounds each network read. It defaults to 10s.
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// WriteTimeout bounds each network write. It defaults to 10s.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// ShutdownTimeout bounds a graceful shutdown. It defaults to 10s.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`

	// Signup lets anyone create an account; otherwise sign-up needs an
	// invitation from an admin. It defaults to false.
	Signup bool `yaml:"signup"`

	// Record records the main stream of every enabled camera continuously,
	// sealed, into data_dir/recordings. It defaults to false.
	Record bool `yaml:"record"`
	// RecordSegment is the length recordings are cut into (at the first
	// keyframe past it). It defaults to 1m.
	RecordSegment time.Duration `yaml:"record_segment"`
	// RecordStore is where recordings are kept: empty for
	// data_dir/recordings, or an S3-compatible bucket as
	// s3://ACCESS:SECRET@host:port/bucket (s3+http:// without TLS). It
	// defaults to empty.
	RecordStore Secret `yaml:"record_store"`
	// RecordRetain is how long a camera's footage is kept, unless the
	// camera has its own rule; 0 keeps it whatever its age. It defaults to
	// 168h (7 days).
	RecordRetain time.Duration `yaml:"record_retain"`
	// RecordRetainBytes caps a camera's footage (plaintext), the oldest
	// deleted first, unless the camera has its own rule; 0 caps nothing.
	// It defaults to 0.
	RecordRetainBytes int64 `yaml:"record_retain_bytes"`
	// RecordRetainEvents is how long footage an event touches is kept
	// (the larger of it and the camera's record_retain wins), unless the
	// camera has its own rule; 0 keeps it no longer than other footage. It
	// defaults to 720h (30 days).
	RecordRetainEvents time.Duration `yaml:"record_retain_events"`
	// RecordGrace is how long a lowered retention rule waits before it
	// deletes anything, so that a mistaken change can be undone. It
	// defaults to 24h.
	RecordGrace time.Duration `yaml:"record_grace"`
	// RecordQuota caps a household's footage over all its cameras
	// (plaintext), the oldest unpinned deleted first, unless the household
	// has its own; 0 caps nothing. It defaults to 0.
	RecordQuota int64 `yaml:"record_quota"`
	// RecordMinFree is the least free space the disk holding recordings
	// may fall to: below it retention deletes the oldest unpinned footage
	// of every household. It applies to local disk only (an S3-compatible
	// store does not say its free space); 0 turns the guard off. It
	// defaults to 1GiB.
	RecordMinFree int64 `yaml:"record_min_free"`

	// CORSOrigins are the origins (scheme://host[:port]) whose pages may
	// fetch playlists, segments, MP4 and stills, e.g. a Cast receiver's.
	// It defaults to none.
	CORSOrigins []string `yaml:"cors_origins"`

	// OAuthClients are the services (Google Home, Alexa) that may link a
	// Vigil account. In the file, a list of mappings; in VIGIL_OAUTH_CLIENTS
	// or --oauth-clients, the same list as JSON. It defaults to none: no
	// service can link.
	OAuthClients []OAuthClient `yaml:"oauth_clients"`

	// PublicURL is the https origin (https://vigil.example.com) through
	// which assistants' devices reach this server: Google's stream URLs and
	// the printed console settings start with it. It defaults to http://
	// and the address a request came to.
	PublicURL string `yaml:"public_url"`
	// AlexaLWAURL is Login with Amazon's token endpoint, where AcceptGrant's
	// code is exchanged and Alexa event tokens are refreshed. It defaults
	// to https://api.amazon.com/auth/o2/token.
	AlexaLWAURL string `yaml:"alexa_lwa_url"`
	// AlexaEventsURL, AlexaEventsURLEU and AlexaEventsURLFE are the Alexa
	// event gateways of the skill's regions (North America; Europe and
	// India; the Far East): a link's proactive reports go to the one of
	// the region its Lambda named at AcceptGrant. They default to
	// https://api.amazonalexa.com/v3/events, https://api.eu.amazonalexa.com/v3/events
	// and https://api.fe.amazonalexa.com/v3/events.
	AlexaEventsURL   string `yaml:"alexa_events_url"`
	AlexaEventsURLEU string `yaml:"alexa_events_url_eu"`
	AlexaEventsURLFE string `yaml:"alexa_events_url_fe"`
	// AlexaSilence is how long an Alexa link may go unused (no directive
	// with its token, no event accepted for it) before it ends: Amazon
	// says nothing when a person disables the skill. It defaults to 60
	// days (1440h).
	AlexaSilence time.Duration `yaml:"alexa_silence"`
	// AlexaProxySecret, when set, is required in X-Vigil-Proxy-Secret on
	// every directive (vigil-alexa-lambda sends it), so that only the
	// skill's Lambda reaches /alexa/directive. It authorizes nothing: the
	// token inside each directive does. At least 16 characters. It
	// defaults to none (not required).
	AlexaProxySecret Secret `yaml:"alexa_proxy_secret"`
	// HomeGraphURL is the origin of Google's HomeGraph API. It defaults to
	// https://homegraph.googleapis.com.
	HomeGraphURL string `yaml:"homegraph_url"`
	// HomeGraphToken is the bearer credential for HomeGraph calls (an
	// access token of the project's service account). It defaults to
	// none: nothing is reported to Google.
	HomeGraphToken Secret `yaml:"homegraph_token"`
	// HomeGraphCredentialsFile is a Google service account key file (JSON)
	// with which Vigil signs in to HomeGraph itself; it takes precedence
	// over HomeGraphToken. It defaults to none.
	HomeGraphCredentialsFile string `yaml:"homegraph_credentials_file"`

	// WebRTCICEServers are the STUN and TURN servers (stun:host:port,
	// turn:host:port?transport=udp) Vigil gathers WebRTC candidates from
	// when viewers cannot reach its own addresses. It defaults to none.
	WebRTCICEServers []string `yaml:"webrtc_ice_servers"`
	// WebRTCICEUsername and WebRTCICECredential sign in to the TURN
	// servers. They default to empty.
	WebRTCICEUsername   string `yaml:"webrtc_ice_username"`
	WebRTCICECredential Secret `yaml:"webrtc_ice_credential"`
	// WebRTCHostAddresses are IP addresses advertised in place of the
	// gathered host candidates, for 1:1 NAT (a cloud VM's public address).
	// It defaults to none: loopback and interface addresses as gathered.
	WebRTCHostAddresses []string `yaml:"webrtc_host_addresses"`
	// WebRTCUDPPortMin and WebRTCUDPPortMax bound the UDP ports of WebRTC
	// candidates, for firewalls. They default to 0: any port.
	WebRTCUDPPortMin int `yaml:"webrtc_udp_port_min"`
	WebRTCUDPPortMax int `yaml:"webrtc_udp_port_max"`
	// WebRTCNegotiationTimeout is how long a WebRTC viewer has after the
	// answer to connect. It defaults to 15s.
	WebRTCNegotiationTimeout time.Duration `yaml:"webrtc_negotiation_timeout"`
	// WebRTCDisconnectedTimeout is how long a connected WebRTC viewer may
	// be silent before its session ends. It defaults to 10s.
	WebRTCDisconnectedTimeout time.Duration `yaml:"webrtc_disconnected_timeout"`
	// WebRTCMaxSessions bounds the WebRTC sessions. It defaults to 256.
	WebRTCMaxSessions int `yaml:"webrtc_max_sessions"`
	// WebRTCMaxSessionsPerUser bounds one user's WebRTC sessions.
	// It defaults to 16.
	WebRTCMaxSessionsPerUser int `yaml:"webrtc_max_sessions_per_user"`

	// TrustedProxies are the reverse proxies (CIDR prefixes or single
	// addresses, e.g. 127.0.0.1/32, 10.0.0.0/8) in front of the HTTP port.
	// Only from them is X-Forwarded-For believed — its rightmost address
	// that is not itself a trusted proxy is the client, for throttling,
	// the access history and logs. It defaults to none: the peer's own
	// address is the client, whatever the header says. Behind a proxy
	// that is not listed, every client shares the proxy's address.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// Limits: what a stranger, or one client, may make Vigil hold.

	// HTTPReadHeaderTimeout bounds reading a request's headers.
	// It defaults to 10s.
	HTTPReadHeaderTimeout time.Duration `yaml:"http_read_header_timeout"`
	// HTTPBodyTimeout bounds reading a request's body, from the end of its
	// headers; a client trickling a body is cut off. It defaults to 30s.
	HTTPBodyTimeout time.Duration `yaml:"http_body_timeout"`
	// HTTPIdleTimeout is how long a keep-alive connection may wait for its
	// next request. It defaults to 60s.
	HTTPIdleTimeout time.Duration `yaml:"http_idle_timeout"`
	// HTTPMaxConnsPerAddress bounds the open HTTP connections from one
	// client address (an IPv6 client: its /64); more are closed at once.
	// It defaults to 256, room for a household's browsers, players and
	// cameras behind one NAT.
	HTTPMaxConnsPerAddress int `yaml:"http_max_conns_per_address"`
	// HTTPMaxOutputsPerUser bounds one user's long-lived HTTP outputs
	// (live.mp4 and MJPEG responses) open at once; one more is answered
	// 429. It defaults to 16, as webrtc_max_sessions_per_user.
	HTTPMaxOutputsPerUser int `yaml:"http_max_outputs_per_user"`
	// RTSPFirstRequestTimeout is how long a new RTSP connection has to send
	// its first request whole. It defaults to 10s.
	RTSPFirstRequestTimeout time.Duration `yaml:"rtsp_first_request_timeout"`
	// RTSPIdleTimeout is how long an RTSP connection or session that is
	// not receiving a camera's media may be silent. It defaults to 60s.
	RTSPIdleTimeout time.Duration `yaml:"rtsp_idle_timeout"`
	// RTSPMaxConnsPerAddress bounds the open RTSP connections from one
	// client address (an IPv6 client: its /64); more are closed at once.
	// A camera holds one per stream it publishes, so the default, 256,
	// fits 128 cameras with a main and a sub stream behind one NAT.
	RTSPMaxConnsPerAddress int `yaml:"rtsp_max_conns_per_address"`
	// TLS is how Vigil gets its certificate: acme (obtained and renewed
	// automatically), files (TLSCertFile and TLSKeyFile, reloaded when they
	// change) or off (plain HTTP and RTSP, for development or behind a
	// proxy). With TLS on, HTTPAddr only redirects to https and answers
	// ACME challenges, HTTPS is served on HTTPSAddr, RTSPS on RTSPSAddr and
	// on HTTPSAddr. It defaults to off.
	TLS TLSMode `yaml:"tls"`
	// HTTPSAddr is the HTTPS (and RTSP over TLS) listen address. It
	// defaults to ":443".
	HTTPSAddr string `yaml:"https_addr"`
	// RTSPSAddr is the RTSPS listen address. It defaults to ":8322".
	RTSPSAddr string `yaml:"rtsps_addr"`
	// RTSPPlain serves plain RTSP on RTSPAddr (and RTP over UDP). Set it
	// to false with TLS on to accept cameras and players over RTSPS only;
	// with TLS off plain RTSP is always served. It defaults to true.
	RTSPPlain bool `yaml:"rtsp_plain"`
	// TLSDomains are the names the ACME certificate is for. They default
	// to none, which means PublicHost, else the host of PublicURL.
	TLSDomains []string `yaml:"tls_domains"`
	// TLSCertFile and TLSKeyFile are the PEM certificate chain and key of
	// tls: files. They default to empty.
	TLSCertFile string `yaml:"tls_cert_file"`
	TLSKeyFile  string `yaml:"tls_key_file"`
	// ACMEDirectory is the ACME CA's directory URL. It defaults to Let's
	// Encrypt's: https://acme-v02.api.letsencrypt.org/directory.
	ACMEDirectory string `yaml:"acme_directory"`
	// ACMEEmail is the contact address given to the CA. It defaults to
	// empty.
	ACMEEmail string `yaml:"acme_email"`
	// ACMECARoot is a PEM file of a CA trusted for the ACME directory's
	// own https, for tests against a private CA such as Pebble. It
	// defaults to empty: the system's roots, right for a public CA.
	ACMECARoot string `yaml:"acme_ca_root"`
}

// Default returns the configuration used when nothing is set.
func Default() Config {
	return Config{
		DataDir:            "data",
		Store:              StoreSQLite,
		ClusterReplicas:    3,
		ClusterDrain:       10 * time.Second,
		RTSPAddr:           ":8554",
		RTSPUDPRTPAddr:     ":8000",
		RTSPUDPRTCPAddr:    ":8001",
		HTTPAddr:           ":8080",
		LogLevel:           LevelInfo,
		LogFormat:          FormatText,
		ReaderQueueUnits:   512,
		ReaderQueueBytes:   16 << 20,
		GOPCacheMaxBytes:   32 << 20,
		ReadTimeout:        10 * time.Second,
		WriteTimeout:       10 * time.Second,
		ShutdownTimeout:    10 * time.Second,
		RecordSegment:      time.Minute,
		RecordRetain:       7 * 24 * time.Hour,
		RecordRetainEvents: 30 * 24 * time.Hour,
		RecordGrace:        24 * time.Hour,
		RecordMinFree:      1 << 30,
		HomeGraphURL:       "https://homegraph.googleapis.com",
		AlexaLWAURL:        "https://api.amazon.com/auth/o2/token",
		AlexaEventsURL:     "https://api.amazonalexa.com/v3/events",
		AlexaEventsURLEU:   "https://api.eu.amazonalexa.com/v3/events",
		AlexaEventsURLFE:   "https://api.fe.amazonalexa.com/v3/events",
		AlexaSilence:       60 * 24 * time.Hour,

		WebRTCNegotiationTimeout:  15 * time.Second,
		WebRTCDisconnectedTimeout: 10 * time.Second,
		WebRTCMaxSessions:         256,
		WebRTCMaxSessionsPerUser:  16,

		HTTPReadHeaderTimeout:   10 * time.Second,
		HTTPBodyTimeout:         30 * time.Second,
		HTTPIdleTimeout:         60 * time.Second,
		HTTPMaxConnsPerAddress:  256,
		HTTPMaxOutputsPerUser:   16,
		RTSPFirstRequestTimeout: 10 * time.Second,
		RTSPIdleTimeout:         60 * time.Second,
		RTSPMaxConnsPerAddress:  256,
		TLS:                     TLSOff,
		HTTPSAddr:               ":443",
		RTSPSAddr:               ":8322",
		RTSPPlain:               true,
		ACMEDirectory:           "https://acme-v02.api.letsencrypt.org/directory",
	}
}

// Domains are the names of the ACME certificate: TLSDomains, else
// PublicHost, else the host of PublicURL.
func (c Config) Domains() []string {
	if len(c.TLSDomains) > 0 {
		return c.TLSDomains
	}
	if c.PublicHost != "" {
		return []string{c.PublicHost}
	}
	if u, err := url.Parse(c.PublicURL); err == nil && u.Hostname() != "" {
		return []string{u.Hostname()}
	}
	return nil
}

// TLSOn reports whether Vigil serves TLS itself.
func (c Config) TLSOn() bool { return c.TLS == TLSACME || c.TLS == TLSFiles }

// SecureCookies reports whether cookies must be marked Secure: when Vigil
// serves TLS itself, or when people reach it through an https PublicURL
// (a proxy terminating TLS).
func (c Config) SecureCookies() bool {
	return c.TLSOn() || strings.HasPrefix(c.PublicURL, "https://")
}

// PublicHostFor returns the host to print in URLs for a service listening on
// listenAddr: PublicHost if set, else the listen host, else 127.0.0.1 when the
// listen host is empty or a wildcard address.
func (c Config) PublicHostFor(listenAddr string) string {
	if c.PublicHost != "" {
		return c.PublicHost
	}
	host, _, err := net.SplitHostPort(listenAddr)
	if err != nil || host == "" {
		return "127.0.0.1"
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return "127.0.0.1"
	}
	return host
}

// Logger returns a logger writing to w in LogFormat at LogLevel.
func (c Config) Logger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel.Level()}
	if c.LogFormat == FormatJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
