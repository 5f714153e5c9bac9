// Package app is the composition root: it builds every component from the
// Config, starts them in order and stops them in reverse. Nothing imports it.
package app

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"vigil/internal/access"
	"vigil/internal/audit"
	"vigil/internal/auth"
	"vigil/internal/certs"
	"vigil/internal/config"
	"vigil/internal/datadir"
	"vigil/internal/hls"
	"vigil/internal/household"
	"vigil/internal/httpapi"
	"vigil/internal/hub"
	"vigil/internal/ingest"
	"vigil/internal/limit"
	"vigil/internal/oauth"
	"vigil/internal/rtsp"
	"vigil/internal/seal"
	"vigil/internal/smarthome/google"
	"vigil/internal/stills"
	"vigil/internal/store/sqlite"
	"vigil/internal/webrtc"
	"vigil/web"
)

// grantTTL bounds how long one RTSP viewing session may run before its
// grant must be minted again (by reconnecting).
const grantTTL = 12 * time.Hour

// App is a running Vigil.
type App struct {
	cfg    config.Config
	log    *slog.Logger
	store  *sqlite.Store
	hub    *hub.Hub
	auth   *auth.Service
	rtsp   *rtsp.Server
	http   *http.Server
	httpL  net.Listener
	pulls  *ingest.Pulls
	hls    *hls.Manager
	router *httpapi.Router
	stills *stills.Service
	oauth  *oauth.Server
	webrtc *webrtc.Server
	reg    *prometheus.Registry
	// refused counts connections refused by the per-address caps.
	refused *prometheus.CounterVec
	// homegraph reports to Google; it runs when homegraph_token is set.
	homegraph *google.Reporter
	// lock keeps other servers off the data directory until Run returns.
	lock *datadir.Lock
	// generated is the admin password made at this start, if one was.
	generated string

	// With TLS on: the certificate, and http_addr's server, which only
	// redirects to https and answers ACME challenges.
	certs     *certs.Manager
	acmeRoots *x509.CertPool
	redirect  *http.Server
	redirectL net.Listener
}

// New locks and opens the data directory and builds every component.
// Nothing listens yet. Until Run returns, no other server can use the
// data directory.
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (_ *App, err error) {
	if err := datadir.Prepare(cfg.DataDir); err != nil {
		return nil, err
	}
	lock, err := datadir.Acquire(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			lock.Release()
		}
	}()
	master, err := seal.LoadOrCreateMasterKey(filepath.Join(cfg.DataDir, datadir.MasterKeyFile))
	if err != nil {
		return nil, err
	}
	tokens := auth.NewTokens(master)
	sealer, err := seal.NewSealer(master)
	if err != nil {
		return nil, err
	}
	secrets, err := seal.NewSecrets(master)
	if err != nil {
		return nil, err
	}
	st, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, datadir.DBFile), sqlite.WithSecrets(secrets))
	if err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, log: log, store: st, reg: prometheus.NewRegistry(), lock: lock}
	if a.acmeRoots, err = loadACMERoots(cfg.ACMECARoot); err != nil {
		st.Close()
		return nil, err
	}
	a.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), buildInfo())
	if a.generated, err = ensureAdmin(ctx, st, cfg.AdminPassword.Reveal()); err != nil {
		st.Close()
		return nil, err
	}
	dir := newDirectory(st)
	a.auth = auth.NewService(dir, access.NewIssuer(), tokens, grantTTL)
	failures := auth.NewFailures(a.reg)
	a.auth.Failures, a.auth.Audit = failures, log
	a.hub = hub.New(hub.Config{
		ReaderQueueUnits: cfg.ReaderQueueUnits,
		ReaderQueueBytes: cfg.ReaderQueueBytes,
		GOPMaxBytes:      cfg.GOPCacheMaxBytes,
		Logger:           log,
		Metrics:          hub.NewMetrics(a.reg),
	})
	a.reg.MustRegister(&hub.Cameras{Hub: a.hub, List: dir.cameraIDs})
	rec := audit.New(st, log)
	dropped := httpapi.NewDropped()
	a.reg.MustRegister(dropped)
	a.rtsp = &rtsp.Server{
		Record:  rec,
		Address: cfg.RTSPAddr, UDPRTPAddress: cfg.RTSPUDPRTPAddr, UDPRTCPAddress: cfg.RTSPUDPRTCPAddr,
		ReadTimeout: cfg.ReadTimeout, WriteTimeout: cfg.WriteTimeout,
		IdleTimeout: cfg.RTSPIdleTimeout, FirstRequestTimeout: cfg.RTSPFirstRequestTimeout,
		PerAddress: a.connCaps("rtsp", cfg.RTSPMaxConnsPerAddress), Dropped: dropped.WithLabelValues("rtsp"),
		Hub: a.hub, Auth: a.auth, Logger: log,
	}
	a.hls = &hls.Manager{Hub: a.hub, Logger: log, Metrics: hls.NewMetrics(a.reg)}
	a.stills, err = stills.New(stills.Config{Hub: a.hub, Sealer: sealer, Epochs: st, Dir: filepath.Join(cfg.DataDir, datadir.StillsDir), Logger: log})
	if err != nil {
		st.Close()
		return nil, err
	}
	if a.webrtc, err = webrtc.New(webrtcConfig(cfg, log, a.reg)); err != nil {
		st.Close()
		return nil, err
	}
	a.pulls = &ingest.Pulls{Hub: a.hub, Sources: dir.pullSources, ReadTimeout: cfg.ReadTimeout, Logger: log}
	signIn := &auth.SignIn{Users: dir, Sessions: dir.Directory, Accounts: auth.NewThrottle(auth.AccountFailures),
		Addresses: auth.NewThrottle(auth.AddressFailures), Hasher: auth.NewHasher(0, -1), Failures: failures, Audit: log}
	authn := &httpapi.Authenticator{Credentials: signIn, Tokens: a.auth, SecureCookies: cfg.SecureCookies()}
	accounts := &auth.Accounts{SignIn: signIn, Store: accountStore{st}, Revoke: a.auth.RevokeUser, OpenSignup: cfg.Signup}
	a.oauth, err = oauth.New(oauth.Config{Store: st, Clients: cfg.OAuthClients, Master: master, SignIn: authn, SecureCookies: cfg.SecureCookies(),
		Cameras: linkCameras{household.Views{Store: st}}, Users: dir, Logger: log, OnUnlink: a.unlinked})
	if err != nil {
		st.Close()
		return nil, err
	}
	fulfillment, err := a.newGoogle()
	if err != nil {
		st.Close()
		return nil, err
	}
	media := &httpapi.Media{Accounts: a.auth, Authn: authn, Hub: a.hub, HLS: a.hls, Stills: a.stills, WebRTC: a.webrtc, Logger: log,
		WriteTimeout: cfg.WriteTimeout, MaxOutputsPerUser: cfg.HTTPMaxOutputsPerUser, Dropped: dropped, Record: rec}
	var signaling httpapi.Signaling
	if a.webrtc != nil {
		signaling = &google.Signaling{Grant: a.googleStreamGrant, Peers: media, Logger: log}
	}
	a.router = httpapi.Handler(httpapi.Config{
		Registry:     a.reg,
		Health:       func(r *http.Request) error { return st.Ping(r.Context()) },
		Users:        dir,
		CORSOrigins:  cfg.CORSOrigins,
		UI:           web.Files,
		Google:       fulfillment,
		BodyTimeout:  cfg.HTTPBodyTimeout,
		GoogleWebRTC: signaling,
		Media:        media,
		API: &httpapi.API{Auth: a.auth, Authn: authn, Accounts: accounts, Households: a.households(),
			Links: a.oauth, Logger: log, Online: func(d access.DeviceID) bool { return a.hub.Online(d, access.StreamMain) },
			RTSPBase: a.rtspBase},
		OAuth:          a.oauth,
		TrustedProxies: cfg.TrustedProxyPrefixes(),
	})
	a.http = &http.Server{
		Handler:           a.router,
		ReadHeaderTimeout: cfg.HTTPReadHeaderTimeout,
		IdleTimeout:       cfg.HTTPIdleTimeout,
		// No ReadTimeout or WriteTimeout: they would cut off live.mp4 and
		// MJPEG. Request bodies and media writes have their own deadlines
		// (httpapi's BodyTimeout and Media.WriteTimeout).
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return a, nil
}

// GeneratedAdminPassword is the password of the admin created at this
// start, or "" if none was generated. It is never logged: the caller shows
// it to the operator once.
func (a *App) GeneratedAdminPassword() string { return a.generated }

// Start opens the listeners, so that their addresses are known before Run.
// If it fails, the App is closed (store and data-directory lock).
func (a *App) Start() (err error) {
	defer func() {
		if err != nil {
			a.store.Close()
			a.lock.Release()
		}
	}()
	if a.cfg.TLSOn() {
		return a.startWithTLS()
	}
	if err := a.rtsp.Start(); err != nil {
		return err
	}
	l, err := net.Listen("tcp", a.cfg.HTTPAddr)
	if err != nil {
		a.rtsp.Close()
		return fmt.Errorf("http: listen on %s: %w (set http_addr or VIGIL_HTTP_ADDR to a free address)", a.cfg.HTTPAddr, err)
	}
	a.httpL = limit.NewListener(l, a.connCaps("http", a.cfg.HTTPMaxConnsPerAddress))
	a.log.Info("vigil listening", "rtsp", a.rtsp.Addr().String(), "http", l.Addr().String(), "data_dir", a.cfg.DataDir)
	return nil
}

// startWithTLS is Start with tls on: HTTPS (and RTSP over TLS) on
// https_addr, RTSPS on rtsps_addr, plain RTSP only if rtsp_plain, and
// http_addr redirecting to https.
func (a *App) startWithTLS() error {
	l, err := a.startTLS()
	if err != nil {
		return err
	}
	if err := a.rtsp.Start(); err != nil {
		l.Close()
		a.redirectL.Close()
		return err
	}
	a.httpL = l
	rtspAddr := "off"
	if a.cfg.RTSPPlain {
		rtspAddr = a.rtsp.Addr().String()
	}
	a.log.Info("vigil listening", "https", l.Addr().String(), "rtsps", a.rtsp.TLSAddr().String(), "rtsp", rtspAddr,
		"http_redirect", a.redirectL.Addr().String(), "tls", string(a.cfg.TLS), "data_dir", a.cfg.DataDir)
	return nil
}

// rtspBase is the RTSP server's URL as the client of r reaches this host.
func (a *App) rtspBase(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host
	}
	scheme, port := a.rtspScheme()
	return scheme + "://" + net.JoinHostPort(host, port)
}

// RTSPAddr and HTTPAddr are the bound addresses after Start.
func (a *App) RTSPAddr() net.Addr { return a.rtsp.Addr() }

// HTTPAddr is the bound HTTP address after Start.
func (a *App) HTTPAddr() net.Addr { return a.httpL.Addr() }

// Run serves until ctx is done, then shuts down within ShutdownTimeout.
func (a *App) Run(ctx context.Context) error {
	defer a.lock.Release()
	defer a.store.Close()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.rtsp.Run(gctx) })
	g.Go(func() error { return a.pulls.Run(gctx) })
	g.Go(func() error { return a.watchRevocations(gctx) })
	g.Go(func() error { return a.oauth.Run(gctx) })
	if a.reportsToGoogle() {
		g.Go(func() error { return a.homegraph.Run(gctx) })
	}
	g.Go(func() error { return a.webrtc.Run(gctx) })
	if a.certs != nil {
		g.Go(func() error { return a.certs.Run(gctx) })
		g.Go(func() error {
			if err := a.redirect.Serve(a.redirectL); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("http redirect: %w", err)
			}
			return nil
		})
		g.Go(func() error {
			<-gctx.Done()
			return a.redirect.Close()
		})
	}
	g.Go(func() error {
		if err := a.http.Serve(a.httpL); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		defer a.hls.Close()
		sctx, cancel := context.WithTimeoutCause(context.Background(), a.cfg.ShutdownTimeout,
			errors.New("shutdown took longer than shutdown_timeout"))
		defer cancel()
		return a.http.Shutdown(sctx)
	})
	err := g.Wait()
	a.log.Info("vigil stopped")
	return err
}

// connCaps caps a port's open connections per client address at max,
// counting refusals in vigil_connections_refused_total{port}.
func (a *App) connCaps(port string, max int) *limit.Addresses {
	if a.refused == nil {
		a.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_connections_refused_total",
			Help: "Connections closed at accept because their client address had as many open as allowed.",
		}, []string{"port"})
		a.reg.MustRegister(a.refused)
	}
	caps := limit.NewAddresses(max)
	caps.Refused = a.refused.WithLabelValues(port).Inc
	// A trusted reverse proxy carries every client's connections: capping
	// it would cap everyone together (clients are capped at the proxy).
	proxies := a.cfg.TrustedProxyPrefixes()
	caps.Exempt = func(ip netip.Addr) bool {
		return slices.ContainsFunc(proxies, func(p netip.Prefix) bool { return p.Contains(ip) })
	}
	return caps
}

// webrtcConfig is the WebRTC server's part of cfg.
func webrtcConfig(cfg config.Config, log *slog.Logger, reg prometheus.Registerer) webrtc.Config {
	c := webrtc.Config{
		HostAddresses:       cfg.WebRTCHostAddresses,
		UDPPortMin:          uint16(cfg.WebRTCUDPPortMin),
		UDPPortMax:          uint16(cfg.WebRTCUDPPortMax),
		NegotiationTimeout:  cfg.WebRTCNegotiationTimeout,
		DisconnectedTimeout: cfg.WebRTCDisconnectedTimeout,
		MaxSessions:         cfg.WebRTCMaxSessions,
		MaxSessionsPerUser:  cfg.WebRTCMaxSessionsPerUser,
		Logger:              log,
		Metrics:             webrtc.NewMetrics(reg),
	}
	if len(cfg.WebRTCICEServers) > 0 {
		c.ICEServers = []webrtc.ICEServer{{URLs: cfg.WebRTCICEServers,
			Username: cfg.WebRTCICEUsername, Credential: cfg.WebRTCICECredential.Reveal()}}
	}
	return c
}
