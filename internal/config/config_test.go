package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDefaultValidates(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
	cfg, rest, err := Load(nil, nil)
	if err != nil {
		t.Fatalf("Load(nil, nil) = %v", err)
	}
	if !reflect.DeepEqual(cfg, Default()) || len(rest) != 0 {
		t.Fatalf("Load(nil, nil) = %+v, %q; want defaults, no args", cfg, rest)
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "vigil.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPrecedence(t *testing.T) {
	file := writeFile(t, "http_addr: \":1001\"\nrtsp_addr: \":1002\"\nlog_level: warn\nread_timeout: 3s\nreader_queue_bytes: 1MiB\n")
	tests := []struct {
		name    string
		args    []string
		environ []string
		want    func(*Config)
	}{
		{"defaults", nil, nil, func(*Config) {}},
		{"file via flag", []string{"--config", file}, nil, func(c *Config) {
			c.HTTPAddr, c.RTSPAddr, c.LogLevel, c.ReadTimeout, c.ReaderQueueBytes = ":1001", ":1002", LevelWarn, 3*time.Second, 1<<20
		}},
		{"file via env, env beats file", nil, []string{"VIGIL_CONFIG=" + file, "VIGIL_HTTP_ADDR=:2001", "VIGIL_EMPTY=", "VIGIL_LOG_LEVEL="}, func(c *Config) {
			c.HTTPAddr, c.RTSPAddr, c.LogLevel, c.ReadTimeout, c.ReaderQueueBytes = ":2001", ":1002", LevelWarn, 3*time.Second, 1<<20
		}},
		{"flag beats env beats file", []string{"--config=" + file, "--http-addr", ":3001", "-read-timeout=1m"},
			[]string{"VIGIL_HTTP_ADDR=:2001", "VIGIL_RTSP_ADDR=:2002", "VIGIL_ADMIN_PASSWORD=correct horse"}, func(c *Config) {
				c.HTTPAddr, c.RTSPAddr, c.LogLevel, c.ReadTimeout, c.ReaderQueueBytes = ":3001", ":2002", LevelWarn, time.Minute, 1<<20
				c.AdminPassword = "correct horse"
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := Default()
			tt.want(&want)
			got, rest, err := Load(append(tt.args, "device", "list", "--json"), tt.environ)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Load =\n%#v\nwant\n%#v", got, want)
			}
			if strings.Join(rest, " ") != "device list --json" {
				t.Errorf("rest = %q, want [device list --json]", rest)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		args    []string
		environ []string
		want    []string // substrings of the error, each must appear
	}{
		{"unknown yaml key", "http_addr: \":1\"\nrtsp_adr: \":2\"\n", nil, nil,
			[]string{`line 2: unknown key "rtsp_adr"`}},
		{"repeated key", "http_addr: \":1\"\nhttp_addr: \":2\"\n", nil, nil, []string{`key "http_addr" repeated`}},
		{"not a mapping", "- a\n- b\n", nil, nil, []string{"want a mapping"}},
		{"nested value", "http_addr:\n  a: b\n", nil, nil, []string{"http_addr must be a single value"}},
		{"bad values everywhere", "reader_queue_units: many\n", []string{"--write-timeout", "soon"}, []string{"VIGIL_GOP_CACHE_MAX_BYTES=lots"},
			[]string{`reader_queue_units "many": want a whole number`, `VIGIL_GOP_CACHE_MAX_BYTES="lots": want a byte count`, `--write-timeout="soon": want a duration`}},
		{"unknown flag", "", []string{"--nope"}, nil, []string{"flag provided but not defined: -nope"}},
		{"validation runs", "", []string{"--log-level", "loud"}, nil, []string{`log_level: unknown log level "loud"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--config", writeFile(t, tt.file)}, tt.args...)
			_, _, err := Load(args, tt.environ)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		_, _, err := Load(nil, []string{"VIGIL_CONFIG=/nonexistent/vigil.yaml"})
		if err == nil || !strings.Contains(err.Error(), "/nonexistent/vigil.yaml") {
			t.Fatalf("err = %v, want one naming the file", err)
		}
	})
	t.Run("help", func(t *testing.T) {
		_, _, err := Load([]string{"-h"}, nil)
		if !errors.Is(err, flag.ErrHelp) || !strings.Contains(err.Error(), "-rtsp-udp-rtcp-addr") {
			t.Fatalf("err = %v, want ErrHelp with usage", err)
		}
	})
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Config)
		want   []string
	}{
		{"ok with port 0 and public host", func(c *Config) { c.RTSPAddr, c.HTTPAddr, c.PublicHost = "127.0.0.1:0", ":0", "cams.example.com" }, nil},
		{"ipv6 public host", func(c *Config) { c.PublicHost = "::1" }, nil},
		{"every problem at once", func(c *Config) {
			*c = Config{RTSPAddr: ":99999", RTSPUDPRTPAddr: ":8001", RTSPUDPRTCPAddr: ":9000", HTTPAddr: "localhost",
				PublicHost: "http://x:1", LogLevel: "loud", LogFormat: "xml", AdminPassword: "short",
				ReaderQueueUnits: -1, ReadTimeout: -time.Second}
		}, []string{
			`data_dir "": must not be empty; set data_dir (or VIGIL_DATA_DIR)`,
			`rtsp_addr ":99999": port must be 0-65535 (0 picks a free port); set rtsp_addr (or VIGIL_RTSP_ADDR) to host:port`,
			`http_addr "localhost": not a host:port address`,
			`rtsp_udp_rtp_addr ":8001": port must be even`,
			`rtsp_udp_rtcp_addr ":9000": port must be the RTP port plus one; set rtsp_udp_rtcp_addr (or VIGIL_RTSP_UDP_RTCP_ADDR) to host:8002`,
			`public_host "http://x:1": must be a bare host`,
			`store: unknown store "": want sqlite or postgres; set store (or VIGIL_STORE)`,
			`log_level: unknown log level "loud"`,
			`log_format: unknown log format "xml"`,
			`admin_password: must be at least 8 characters`,
			`reader_queue_units "-1": must be greater than zero`,
			`reader_queue_bytes "0": must be greater than zero`,
			`gop_cache_max_bytes "0"`,
			`read_timeout "-1s"`, `write_timeout "0s"`, `shutdown_timeout "0s"`,
			`webrtc_negotiation_timeout "0s"`, `webrtc_disconnected_timeout "0s"`,
			`webrtc_max_sessions "0"`, `webrtc_max_sessions_per_user "0"`, `alexa_silence "0s"`,
			`http_read_header_timeout "0s"`, `http_body_timeout "0s"`, `http_idle_timeout "0s"`,
			`rtsp_first_request_timeout "0s"`, `rtsp_idle_timeout "0s"`,
			`http_max_conns_per_address "0"`, `http_max_outputs_per_user "0"`, `rtsp_max_conns_per_address "0"`,
		}},
		{"webrtc", func(c *Config) {
			c.WebRTCICEServers = []string{"stun:stun.example.com:3478", "turn:turn.example.com?transport=udp", "http://x", "stun:"}
			c.WebRTCHostAddresses = []string{"203.0.113.7", "cams.example.com"}
			c.WebRTCUDPPortMin = 50000
		}, []string{
			`webrtc_ice_servers "http://x": is not a STUN or TURN URL`,
			`webrtc_ice_servers "stun:": is not a STUN or TURN URL`,
			`webrtc_ice_username "": TURN servers need a user name and a credential`,
			`webrtc_host_addresses "cams.example.com": is not an IP address`,
			`webrtc_udp_port_min "50000-0": set both bounds`,
		}},
		{"webrtc ok", func(c *Config) {
			c.WebRTCICEServers = []string{"stun:stun.example.com:3478", "turns:turn.example.com:5349"}
			c.WebRTCICEUsername, c.WebRTCICECredential = "vigil", "secret"
			c.WebRTCHostAddresses = []string{"203.0.113.7", "2001:db8::7"}
			c.WebRTCUDPPortMin, c.WebRTCUDPPortMax = 50000, 50999
		}, nil},
		{"postgres", func(c *Config) { c.Store, c.StoreDSN = StorePostgres, "postgres://vigil:pw@db:5432/vigil" }, nil},
		{"postgres without a dsn", func(c *Config) { c.Store = StorePostgres }, []string{
			`store_dsn: must be set with store: postgres; set store_dsn (or VIGIL_STORE_DSN) to postgres://`}},
		{"a dsn sqlite ignores", func(c *Config) { c.StoreDSN = "postgres://vigil:short@db/vigil" }, []string{
			`store_dsn: is set but store is sqlite`}},
		{"cluster", func(c *Config) {
			c.Store, c.StoreDSN = StorePostgres, "postgres://vigil:pw@db:5432/vigil"
			c.ClusterNode, c.ClusterListen, c.ClusterRoutes = "node-1", "10.0.0.1:6222", []string{"10.0.0.1:6222", "10.0.0.2:6222"}
		}, nil},
		{"cluster on an external nats", func(c *Config) {
			c.Store, c.StoreDSN = StorePostgres, "postgres://vigil:pw@db:5432/vigil"
			c.ClusterNode, c.NATSURL = "node-1", "nats://nats:4222"
		}, nil},
		{"cluster on sqlite, without routes", func(c *Config) { c.ClusterNode, c.ClusterReplicas, c.ClusterDrain = "Node 1", 0, -time.Second }, []string{
			`cluster_node "Node 1": is not a node name`,
			`store "sqlite": must be postgres in a cluster`,
			`cluster_replicas "0": must be 1 to 5`,
			`cluster_drain "-1s": must be 0 to 10m`,
			`cluster_listen "": not a host:port address`,
			`cluster_routes "": must list the nodes' cluster_listen addresses`}},
		{"cluster keys without a node", func(c *Config) { c.ClusterRoutes, c.NATSURL = []string{"a:1"}, "nats://x:4222" }, []string{
			`cluster_routes "(set)": is set but cluster_node is not`, `nats_url "(set)": is set but cluster_node is not`}},
		{"udp port 0 refused", func(c *Config) { c.RTSPUDPRTPAddr = ":0" }, []string{`rtsp_udp_rtp_addr ":0": port must be 1-65535`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.modify(&c)
			err := c.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate() = nil, want errors")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%s\ndoes not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "short") {
				t.Errorf("error leaks the admin password: %s", err)
			}
			if n := len(strings.Split(err.Error(), "\n")); n != len(tt.want) {
				t.Errorf("got %d problems, want %d:\n%s", n, len(tt.want), err)
			}
		})
	}
}

func TestSecretRedacted(t *testing.T) {
	const pw = "hunter2-very-secret"
	c := Default()
	c.LogFormat = FormatJSON
	c.AdminPassword = pw
	var buf bytes.Buffer
	log := c.Logger(&buf)
	log.Info("start", "admin_password", c.AdminPassword, "config", c)
	log.Debug("hidden at info level")

	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("not one JSON line: %v\n%s", err, buf.String())
	}
	if line["admin_password"] != "[redacted]" {
		t.Errorf("admin_password logged as %v, want [redacted]", line["admin_password"])
	}
	outputs := map[string]string{
		"slog json": buf.String(),
		"%v":        fmt.Sprintf("%v", c),
		"%+v":       fmt.Sprintf("%+v", c),
		"%#v":       fmt.Sprintf("%#v", c),
		"%s":        fmt.Sprintf("%s", c.AdminPassword),
	}
	for name, out := range outputs {
		t.Run(name, func(t *testing.T) {
			if strings.Contains(out, pw) || !strings.Contains(out, "[redacted]") {
				t.Errorf("output leaks or lacks redaction: %s", out)
			}
		})
	}
	if j, _ := json.Marshal(c); strings.Contains(string(j), pw) {
		t.Errorf("json.Marshal leaks the secret: %s", j)
	}
	if c.AdminPassword.Reveal() != pw {
		t.Errorf("Reveal() = %q, want %q", c.AdminPassword.Reveal(), pw)
	}
	if strings.Contains(buf.String(), "hidden") {
		t.Errorf("debug line logged at info level")
	}
}

func TestLoggerLevelAndFormat(t *testing.T) {
	tests := []struct {
		level  LogLevel
		format LogFormat
		logs   slog.Level
		quiet  slog.Level
		prefix string
	}{
		{LevelDebug, FormatText, slog.LevelDebug, slog.LevelDebug - 1, "time="},
		{LevelWarn, FormatJSON, slog.LevelWarn, slog.LevelInfo, "{"},
		{LevelError, FormatText, slog.LevelError, slog.LevelWarn, "time="},
	}
	for _, tt := range tests {
		t.Run(string(tt.level)+"/"+string(tt.format), func(t *testing.T) {
			c := Default()
			c.LogLevel, c.LogFormat = tt.level, tt.format
			var buf bytes.Buffer
			log := c.Logger(&buf)
			log.Log(t.Context(), tt.quiet, "quiet")
			log.Log(t.Context(), tt.logs, "loud")
			if out := buf.String(); !strings.HasPrefix(out, tt.prefix) || strings.Contains(out, "quiet") || !strings.Contains(out, "loud") {
				t.Errorf("output %q", out)
			}
		})
	}
}

func TestPublicHostFor(t *testing.T) {
	tests := []struct{ public, addr, want string }{
		{"", ":8554", "127.0.0.1"},
		{"", "0.0.0.0:8554", "127.0.0.1"},
		{"", "[::]:8554", "127.0.0.1"},
		{"", "192.0.2.7:8554", "192.0.2.7"},
		{"cams.example.com", "192.0.2.7:8554", "cams.example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.public+tt.addr, func(t *testing.T) {
			c := Config{PublicHost: tt.public}
			if got := c.PublicHostFor(tt.addr); got != tt.want {
				t.Errorf("PublicHostFor(%q) = %q, want %q", tt.addr, got, tt.want)
			}
		})
	}
}

func TestCORSOrigins(t *testing.T) {
	cfg, _, err := Load(nil, []string{"VIGIL_CORS_ORIGINS=https://a.example, http://b.example:8443"})
	if err != nil || len(cfg.CORSOrigins) != 2 || cfg.CORSOrigins[1] != "http://b.example:8443" {
		t.Fatalf("%v %q", err, cfg.CORSOrigins)
	}
	_, _, err = Load([]string{"--cors-origins", "https://a.example/path,ftp://x"}, nil)
	if err == nil || strings.Count(err.Error(), "cors_origins \"") != 2 {
		t.Fatalf("want two cors_origins problems, got %v", err)
	}
}

func TestOAuthClients(t *testing.T) {
	const secret = "google-client-secret-1234"
	file := writeFile(t, `oauth_clients:
  - id: google
    name: Google Home
    kind: google
    secret: `+secret+`
    redirect_uris:
      - https://oauth-redirect.googleusercontent.com/r/vigil-project
  - id: tool
    secret: tool-secret-0123456789
    redirect_uris: [http://127.0.0.1:9/cb]
`)
	want := []OAuthClient{
		{ID: "google", Name: "Google Home", Kind: OAuthGoogle, Secret: secret,
			RedirectURIs: []string{"https://oauth-redirect.googleusercontent.com/r/vigil-project"}},
		{ID: "tool", Name: "tool", Kind: OAuthOther, Secret: "tool-secret-0123456789", RedirectURIs: []string{"http://127.0.0.1:9/cb"}},
	}
	cfg, _, err := Load([]string{"--config", file}, nil)
	if err != nil || !reflect.DeepEqual(cfg.OAuthClients, want) {
		t.Fatalf("file: %v\n%#v", err, cfg.OAuthClients)
	}
	env := `[{"id":"alexa","kind":"alexa","name":"Alexa","secret":"alexa-secret-0123456789","redirect_uris":["https://layla.amazon.com/api/skill/link/M1"]}]`
	cfg, _, err = Load([]string{"--config", file}, []string{"VIGIL_OAUTH_CLIENTS=" + env})
	if err != nil || len(cfg.OAuthClients) != 1 || cfg.OAuthClients[0].Kind != OAuthAlexa {
		t.Fatalf("environment beats file: %v %#v", err, cfg.OAuthClients)
	}
	cfg, _, err = Load([]string{"--oauth-clients", "[]"}, []string{"VIGIL_OAUTH_CLIENTS=" + env})
	if err != nil || len(cfg.OAuthClients) != 0 {
		t.Fatalf("flag beats environment: %v %#v", err, cfg.OAuthClients)
	}

	bad := []struct {
		name, value string
		want        []string
	}{
		{"unknown key", `[{"id":"x","secrett":"` + secret + `"}]`, []string{"field secrett not found"}},
		{"wrong type", `[{"id":"x","secret":"` + secret + `","redirect_uris":"` + secret + `"}]`, []string{"a value has the wrong type"}},
		{"not a list", `{"id": "x"}`, []string{"want a list"}},
		{"every problem", `[{"id":"g","secret":"short","kind":"goggle","redirect_uris":["http://example.com/cb","https://x/#f","/relative"]},
			{"id":"g","secret":"` + secret + `","redirect_uris":[]}, {"secret":"` + secret + `","redirect_uris":["https://ok.example/cb"]}]`, []string{
			`oauth_clients[0] (id "g"): secret must be at least 16 characters`,
			`oauth_clients[0] (id "g"): unknown kind "goggle"`,
			`redirect URI "http://example.com/cb" must use https (http only on a loopback host)`,
			`redirect URI "https://x/#f" must not have a fragment`,
			`redirect URI "/relative" is not an absolute URI`,
			`oauth_clients[1] (id "g"): id repeated`,
			`oauth_clients[1] (id "g"): redirect_uris must list at least one URI`,
			`oauth_clients[2] (id ""): id must be non-empty`,
		}},
		{"alexa fields", `[{"id":"a","secret":"` + secret + `","kind":"alexa","vendor_id":"M2/../x","events_client_id":"amzn1.application-oa2-client.x"},
			{"id":"g","secret":"` + secret + `","kind":"google","vendor_id":"M2ABC","redirect_uris":["https://ok.example/cb"]}]`, []string{
			`oauth_clients[0] (id "a"): vendor_id must be letters and digits`,
			`oauth_clients[0] (id "a"): events_client_id and events_client_secret go together`,
			`oauth_clients[1] (id "g"): vendor_id, events_client_id and events_client_secret are for kind alexa only`,
		}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Load(nil, []string{"VIGIL_OAUTH_CLIENTS=" + tt.value})
			if err == nil {
				t.Fatal("Load succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%s\ndoes not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "short") {
				t.Errorf("error leaks a client secret: %s", err)
			}
		})
	}
	t.Run("file errors do not echo secrets", func(t *testing.T) {
		_, _, err := Load([]string{"--config", writeFile(t, "oauth_clients:\n  - id: x\n    secret: "+secret+"\n    oops: 1\n")}, nil)
		if err == nil || !strings.Contains(err.Error(), "field oops not found") || strings.Contains(err.Error(), secret) {
			t.Fatalf("%v", err)
		}
	})
}

// TestAlexaClient: a vendor id alone gives an Alexa client its three
// regional redirect URIs (and stands for redirect_uris); the events
// credentials load, the secret redacted.
func TestAlexaClient(t *testing.T) {
	secret := "alexa-client-secret-0123456789"
	env := `[{"id":"alexa","secret":"` + secret + `","kind":"alexa","vendor_id":"M2ABCDEF12345",
		"events_client_id":"amzn1.application-oa2-client.abc","events_client_secret":"events-secret-0123456789"}]`
	cfg, _, err := Load(nil, []string{"VIGIL_OAUTH_CLIENTS=" + env})
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.OAuthClients[0]
	want := []string{"https://pitangui.amazon.com/api/skill/link/M2ABCDEF12345",
		"https://layla.amazon.com/api/skill/link/M2ABCDEF12345",
		"https://alexa.amazon.co.jp/api/skill/link/M2ABCDEF12345"}
	if !reflect.DeepEqual(c.Redirects(), want) || c.EventsClientID != "amzn1.application-oa2-client.abc" ||
		c.EventsClientSecret.Reveal() != "events-secret-0123456789" || fmt.Sprint(c.EventsClientSecret) == "events-secret-0123456789" {
		t.Fatalf("%+v: redirects %v", c, c.Redirects())
	}
	c.RedirectURIs = []string{"http://127.0.0.1:9/cb", want[1]}
	if got := c.Redirects(); len(got) != 4 || got[0] != "http://127.0.0.1:9/cb" {
		t.Fatalf("listed and derived redirects: %v", got)
	}
	c.Kind = OAuthGoogle
	if got := c.Redirects(); len(got) != 2 {
		t.Fatalf("a Google client derives nothing from a vendor id: %v", got)
	}
}

func TestTrustedProxies(t *testing.T) {
	cfg, _, err := Load(nil, []string{"VIGIL_TRUSTED_PROXIES=127.0.0.1/32, 10.1.2.3/8,192.0.2.7, ::ffff:10.0.0.0/104, 2001:db8::/32"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range cfg.TrustedProxyPrefixes() {
		got = append(got, p.String())
	}
	want := "127.0.0.1/32 10.0.0.0/8 192.0.2.7/32 10.0.0.0/8 2001:db8::/32"
	if strings.Join(got, " ") != want {
		t.Fatalf("prefixes %q, want %q", got, want)
	}
	if len(Default().TrustedProxies) != 0 {
		t.Fatal("a proxy is trusted by default")
	}
	_, _, err = Load([]string{"--trusted-proxies", "10.0.0.0/8,proxy.example,fe80::1%eth0"}, nil)
	if err == nil || strings.Count(err.Error(), "trusted_proxies \"") != 2 {
		t.Fatalf("want two trusted_proxies problems, got %v", err)
	}
}
