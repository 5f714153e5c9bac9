// Package certs owns Vigil's TLS certificate: obtained and renewed with
// ACME (certmagic, HTTP-01 and TLS-ALPN-01, stored in the data directory)
// or loaded from files and reloaded when they change. It hands out a
// tls.Config for every TLS listener, the handler for port 80 (ACME
// challenges, then a redirect to https) and the HSTS header. It knows
// nothing of what is served over TLS.
package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
)

// Config says where the certificate comes from.
type Config struct {
	// ACME obtains certificates for Domains from Directory when set;
	// otherwise CertFile and KeyFile are loaded.
	ACME      bool
	Domains   []string
	Directory string
	Email     string
	// Roots, when set, are the only CAs trusted for the ACME directory's
	// own https (tests against Pebble). It defaults to the system's.
	Roots *x509.CertPool
	// Storage is the directory where ACME accounts and certificates are
	// kept (in the data directory).
	Storage string
	// HTTPPort and TLSPort are the ports on which this process answers
	// HTTP-01 and TLS-ALPN-01 challenges (what http_addr and https_addr
	// bound), so certmagic does not try to bind them itself.
	HTTPPort, TLSPort int
	// RenewCheckInterval is how often certificates are checked for
	// renewal. It defaults to 10 minutes.
	RenewCheckInterval time.Duration
	// DisableHTTP01 and DisableTLSALPN01 turn a challenge type off (tests
	// use one at a time). Both are on by default.
	DisableHTTP01, DisableTLSALPN01 bool

	CertFile, KeyFile string
	// ReloadInterval is how often the files are checked for a change. It
	// defaults to 2 seconds.
	ReloadInterval time.Duration

	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Manager holds the certificate and keeps it current.
type Manager struct {
	cfg    Config
	log    *slog.Logger
	magic  *certmagic.Config     // ACME only
	issuer *certmagic.ACMEIssuer // ACME only
	cache  *certmagic.Cache      // ACME only
	files  *fileCert             // files only
	tlsCfg *tls.Config
}

// New prepares the certificate source. In files mode the files must load
// now; in ACME mode certificates are obtained by Run.
func New(cfg Config) (*Manager, error) {
	m := &Manager{cfg: cfg, log: cfg.Logger}
	if m.log == nil {
		m.log = slog.Default()
	}
	m.log = m.log.With("component", "certs")
	if !cfg.ACME {
		f, err := loadFiles(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, err
		}
		m.files = f
		m.tlsCfg = &tls.Config{GetCertificate: f.get, MinVersion: tls.VersionTLS12, NextProtos: httpProtos()}
		return m, nil
	}
	if len(cfg.Domains) == 0 {
		return nil, fmt.Errorf("certs: acme needs at least one domain; set tls_domains")
	}
	interval := cfg.RenewCheckInterval
	if interval == 0 {
		interval = 10 * time.Minute
	}
	m.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert:   func(certmagic.Certificate) (*certmagic.Config, error) { return m.magic, nil },
		RenewCheckInterval: interval,
		Logger:             zap.NewNop(),
	})
	m.magic = certmagic.New(m.cache, certmagic.Config{
		Storage: &certmagic.FileStorage{Path: cfg.Storage},
		Logger:  zap.NewNop(),
		OnEvent: m.event,
	})
	m.issuer = certmagic.NewACMEIssuer(m.magic, certmagic.ACMEIssuer{
		CA: cfg.Directory, Email: cfg.Email, Agreed: true, TrustedRoots: cfg.Roots,
		AltHTTPPort: cfg.HTTPPort, AltTLSALPNPort: cfg.TLSPort, Logger: zap.NewNop(),
		DisableHTTPChallenge: cfg.DisableHTTP01, DisableTLSALPNChallenge: cfg.DisableTLSALPN01,
	})
	m.magic.Issuers = []certmagic.Issuer{m.issuer}
	t := m.magic.TLSConfig()
	t.MinVersion = tls.VersionTLS12
	// acme-tls/1 (already listed by certmagic) answers TLS-ALPN-01.
	t.NextProtos = append(httpProtos(), t.NextProtos...)
	m.tlsCfg = t
	return m, nil
}

// httpProtos are the protocols offered by ALPN before acme-tls/1, in the
// server's order of preference: HTTP/2, then HTTP/1.1. A client that
// offers neither (an RTSPS camera or player, an HTTP client without ALPN)
// negotiates nothing and is sorted by its first line.
func httpProtos() []string { return []string{"h2", "http/1.1"} }

// event logs certmagic's events through slog (its own zap logs are off).
func (m *Manager) event(_ context.Context, event string, data map[string]any) error {
	switch event {
	case "cert_obtained":
		m.log.Info("certificate obtained", "names", data["identifier"], "renewal", data["renewal"])
	case "cert_failed":
		m.log.Error("certificate not obtained; retrying", "names", data["identifier"], "renewal", data["renewal"], "error", data["error"])
	}
	return nil
}

// TLSConfig is the configuration every TLS listener uses; it serves the
// current certificate, also after a renewal or reload.
func (m *Manager) TLSConfig() *tls.Config { return m.tlsCfg }

// Run obtains (ACME) or watches (files) the certificate until ctx ends.
func (m *Manager) Run(ctx context.Context) error {
	if m.files != nil {
		m.files.watch(ctx, m.cfg.ReloadInterval, m.log)
		return nil
	}
	defer m.cache.Stop()
	// ManageAsync obtains in the background, retrying with backoff, and
	// keeps renewing; handshakes before the first certificate fail.
	if err := m.magic.ManageAsync(ctx, m.cfg.Domains); err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	<-ctx.Done()
	return nil
}

// hstsMaxAge is one year, as browsers' preload lists expect.
const hstsMaxAge = 365 * 24 * time.Hour

// HSTS adds Strict-Transport-Security to every response of next.
func HSTS(next http.Handler) http.Handler {
	v := "max-age=" + strconv.Itoa(int(hstsMaxAge.Seconds()))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", v)
		next.ServeHTTP(w, r)
	})
}

// RedirectHandler answers ACME HTTP-01 challenges and sends everything
// else to https on httpsPort (443: no port in the URL).
func (m *Manager) RedirectHandler(httpsPort int) http.Handler {
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.Host)
		if err != nil {
			host = r.Host
		}
		if httpsPort != 443 {
			host = net.JoinHostPort(host, strconv.Itoa(httpsPort))
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			// A body sent in clear is not replayed to https.
			http.Error(w, "use https", http.StatusBadRequest)
			return
		}
		http.Redirect(w, r, "https://"+host+r.URL.RequestURI(), http.StatusMovedPermanently)
	})
	if m.issuer != nil {
		h = m.issuer.HTTPChallengeHandler(h)
	}
	return h
}
