// Package app is the composition root: it builds every component from the
// Config, starts them in order and stops them in reverse. Nothing imports it.
package app

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
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
	"vigil/internal/record"
	"vigil/internal/rtsp"
	"vigil/internal/seal"
	"vigil/internal/smarthome/alexa"
	"vigil/internal/smarthome/google"
	"vigil/internal/stills"
	"vigil/internal/store/backend"
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
	store  backend.Store
	hub    *hub.Hub
	auth   *auth.Service
	rtsp   *rtsp.Server
	http   *http.Server
	httpL  net.Listener
	pulls  *ingest.Pulls
	hls    *hls.Manager
	router *httpapi.Router
	stills *stills.Service
	// recorder records cameras when record is on, and retention deletes
	// what their rules no longer keep; nil otherwise.
	recorder  *record.Recorder
	retention *record.Retention
	rules     *record.Rules
	events    *record.Events
	oauth     *oauth.Server
	webrtc    *webrtc.Server
	reg       *prometheus.Registry
	// refused counts connections refused by port and reason (see refusals).
	refused *prometheus.CounterVec
	// homegraph reports to Google; it runs when homegraph_token is set.
	homegraph *google.Reporter
	// alexaEvents reports to Alexa's event gateway; nil without events
	// credentials.
	alexaEvents *alexa.Reporter
	// alexaSnapshots serves the still URLs Alexa's GetSnapshot answers with.
	alexaSnapshots *alexa.Snapshots
	// cluster is this node's part of a cluster; nil on one node.
	cluster *clusterSide
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

// New locks and opens the data directory and builds every component, one
// after the other in the order they depend on each other. Nothing listens
// yet (Start). If a step fails, what the earlier ones opened is closed on
// one path (close): the store, then the data directory's lock. Until Run
// returns, no other server can use the data directory.
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (_ *App, err error) {
	if err := datadir.Prepare(cfg.DataDir); err != nil {
		return nil, err
	}
	lock, err := datadir.Acquire(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, log: log, reg: prometheus.NewRegistry(), lock: lock}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	a.reg.MustRegister(goCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), buildInfo())
	master, sealer, err := a.openData(ctx)
	if err != nil {
		return nil, err
	}
	issuer := access.NewIssuer()
	dir := auth.StoreDirectory{Records: a.store}
	a.auth = auth.NewService(dir, issuer, auth.NewTokens(master), grantTTL)
	failures := authFailures(a.reg)
	a.auth.Failures, a.auth.Audit = failures, log
	if cfg.Clustered() {
		if a.cluster, err = a.joinCluster(ctx, sealer, a.feed); err != nil {
			return nil, err
		}
		a.cluster.metrics(a.reg)
	}
	a.hub = hub.New(a.cluster.hubConfig(hub.Config{ReaderQueueUnits: cfg.ReaderQueueUnits, ReaderQueueBytes: cfg.ReaderQueueBytes,
		GOPMaxBytes: cfg.GOPCacheMaxBytes, Logger: log, Metrics: hub.NewMetrics(a.reg)}))
	a.reg.MustRegister(&hub.Cameras{Hub: a.hub, List: cameraIDs(a.store)})
	rec := audit.New(a.store, log)
	dropped := httpapi.NewDropped()
	a.reg.MustRegister(dropped)
	if a.rtsp, err = rtsp.New(a.rtspConfig(rec, dropped.WithLabelValues("rtsp"))); err != nil {
		return nil, err
	}
	if a.hls, err = hls.New(hls.Config{Hub: a.hub, Logger: log, Metrics: hls.NewMetrics(a.reg)}); err != nil {
		return nil, err
	}
	a.stills, err = stills.New(stills.Config{Hub: a.hub, Sealer: sealer, Epochs: a.store,
		Dir: filepath.Join(cfg.DataDir, datadir.StillsDir), Logger: log, Replicate: a.cluster.stillSharer(),
		ReplicaGrant: a.auth.RecorderGrant})
	if err != nil {
		return nil, err
	}
	if err := a.cluster.receiveStills(a.stills); err != nil {
		return nil, err
	}
	if a.alexaSnapshots, err = a.newAlexaSnapshots(master, rec); err != nil {
		return nil, err
	}
	if a.webrtc, err = webrtc.New(webrtcConfig(cfg, log, a.reg)); err != nil {
		return nil, err
	}
	pulls := ingest.PullsConfig{Hub: a.hub, Sources: a.cluster.pulls(pullSources(a.store)), ReadTimeout: cfg.ReadTimeout, Logger: log}
	if a.cluster != nil {
		pulls.Refresh = pullRefresh
	}
	if a.pulls, err = ingest.NewPulls(pulls); err != nil {
		return nil, err
	}
	signIn := &auth.SignIn{Users: dir, Sessions: dir, Accounts: auth.NewThrottle(auth.AccountFailures),
		Addresses: auth.NewThrottle(auth.AddressFailures), Hasher: auth.NewHasher(0, -1), Failures: failures, Audit: log, Tokens: a.auth}
	authn := &httpapi.Authenticator{Credentials: signIn, SecureCookies: cfg.SecureCookies()}
	a.oauth, err = oauth.New(oauth.Config{Store: a.store, Clients: cfg.OAuthClients, Master: master, SignIn: authn,
		SecureCookies: cfg.SecureCookies(), Cameras: linkCameras{household.Views{Store: a.store}}, Users: dir,
		Logger: log, OnUnlink: a.unlinked})
	if err != nil {
		return nil, err
	}
	if a.homegraph, err = a.newReporter(); err != nil {
		return nil, err
	}
	var recordings *record.Library
	if cfg.Record {
		if a.recorder, recordings, err = newRecordings(ctx, cfg, a.store, a.hub, sealer, a.auth, a.reg, log); err != nil {
			return nil, err
		}
		a.events = newEvents(a.store, a.recorder, recordings, sealer, a.stills, a.auth, a.reg, log)
		a.rules = newRules(cfg, a.store)
		a.retention = newRetention(cfg, a.store, recordings.Blobs, a.rules, a.events, a.reg, log)
	}
	var pins *record.Pins
	if a.events != nil {
		pins = &record.Pins{Index: a.store, Events: a.events}
	}
	var exports *record.Exports
	if recordings != nil {
		exports = &record.Exports{Library: recordings, Index: a.store, Events: a.events}
	}
	media := &httpapi.Media{Recordings: recordings, Events: a.events, Pins: pins, Exports: exports, ExportGrants: a.auth, Accounts: a.auth, Authn: authn, Hub: a.hub, HLS: a.hls, Stills: a.stills, WebRTC: a.webrtc,
		Logger: log, WriteTimeout: cfg.WriteTimeout, MaxOutputsPerUser: cfg.HTTPMaxOutputsPerUser, Dropped: dropped, Record: rec}
	accounts := &auth.Accounts{SignIn: signIn, Store: accountStore{a.store}, Revoke: a.auth.RevokeUser, OpenSignup: cfg.Signup}
	a.router = httpapi.Handler(a.routes(authn, accounts, media))
	a.http = httpServer(cfg, log, a.router)
	return a, nil
}

// httpServer serves h with cfg's timeouts.
func httpServer(cfg config.Config, log *slog.Logger, h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: cfg.HTTPReadHeaderTimeout,
		IdleTimeout:       cfg.HTTPIdleTimeout,
		// No ReadTimeout or WriteTimeout: they would cut off live.mp4 and
		// MJPEG. Request bodies and every response's writes have their own
		// deadlines (httpapi's BodyTimeout and WriteTimeout).
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// openData opens what the data directory holds: the master key (returned
// with the sealer made from it), the store (with the admin ensured) and
// the test-only ACME root.
func (a *App) openData(ctx context.Context) (master []byte, sealer *seal.Sealer, err error) {
	if master, err = seal.LoadOrCreateMasterKey(filepath.Join(a.cfg.DataDir, datadir.MasterKeyFile)); err != nil {
		return nil, nil, err
	}
	if sealer, err = seal.NewSealer(master); err != nil {
		return nil, nil, err
	}
	secrets, err := seal.NewSecrets(master)
	if err != nil {
		return nil, nil, err
	}
	if a.store, err = backend.Open(ctx, backend.Kind(a.cfg.Store), filepath.Join(a.cfg.DataDir, datadir.DBFile), a.cfg.StoreDSN.Reveal(), secrets); err != nil {
		return nil, nil, err
	}
	if a.acmeRoots, err = loadACMERoots(a.cfg.ACMECARoot); err != nil {
		return nil, nil, err
	}
	a.generated, err = ensureAdmin(ctx, a.store, a.cfg.AdminPassword.Reveal())
	return master, sealer, err
}

// close releases what New opened: the cluster's NATS connection and
// embedded server (its claims lapse), the store, then the data
// directory's lock, which lets another server in.
func (a *App) close() {
	a.cluster.close()
	if a.store != nil {
		a.store.Close()
	}
	a.lock.Release()
}

// rtspConfig is the RTSP server's part of the config. With TLS on, RTSPS
// takes the certificate from the manager Start makes.
func (a *App) rtspConfig(rec *audit.Recorder, dropped prometheus.Counter) rtsp.Config {
	cfg := a.cfg
	c := rtsp.Config{
		Address: cfg.RTSPAddr, UDPRTPAddress: cfg.RTSPUDPRTPAddr, UDPRTCPAddress: cfg.RTSPUDPRTCPAddr,
		ReadTimeout: cfg.ReadTimeout, WriteTimeout: cfg.WriteTimeout,
		IdleTimeout: cfg.RTSPIdleTimeout, FirstRequestTimeout: cfg.RTSPFirstRequestTimeout,
		PerAddress: a.connCaps("rtsp", cfg.RTSPMaxConnsPerAddress), Dropped: dropped,
		Oversized: a.refusals("rtsp", refusedFirstRequest), Hub: a.hub, Auth: a.auth, Record: rec, Logger: a.log,
	}
	if cfg.TLSOn() {
		c.TLSConfig = &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return a.certs.TLSConfig(), nil
		}}
		c.TLSAddress, c.DisablePlain = cfg.RTSPSAddr, !cfg.RTSPPlain
	}
	return c
}

// routes is the HTTP surface's part of the config.
func (a *App) routes(authn *httpapi.Authenticator, accounts *auth.Accounts, media *httpapi.Media) httpapi.Config {
	var signaling httpapi.Signaling
	if a.webrtc != nil {
		signaling = &google.Signaling{Grant: a.googleStreamGrant, Peers: media, Logger: a.log}
	}
	return httpapi.Config{
		Registry:      a.reg,
		Health:        a.health,
		Users:         auth.StoreDirectory{Records: a.store},
		CORSOrigins:   a.cfg.CORSOrigins,
		UI:            web.Files,
		Google:        a.newFulfillment(),
		Alexa:         a.newAlexa(media),
		AlexaSnapshot: a.alexaSnapshots,
		BodyTimeout:   a.cfg.HTTPBodyTimeout,
		WriteTimeout:  a.cfg.WriteTimeout,
		GoogleWebRTC:  signaling,
		Media:         media,
		API: &httpapi.API{Auth: a.auth, Authn: authn, Accounts: accounts, Households: a.households(),
			Links: a.oauth, Logger: a.log, Status: a.cameraStatus,
			RTSPBase: a.rtspBase, NeedsRelink: alexaSide{a}.NeedsRelink, Retention: a.retentionRules(), Usage: a.usage(), Quota: a.quota(),
			Events: a.events, Continuous: a.continuousFlags(), ExportKeep: a.exportKeep()},
		OAuth:          a.oauth,
		TrustedProxies: a.cfg.TrustedProxyPrefixes(),
	}
}

// health is /healthz's answer: draining in a cluster node that is
// leaving, else whether the store answers.
func (a *App) health(r *http.Request) error {
	if a.cluster.draining() {
		return httpapi.ErrDraining
	}
	return a.store.Ping(r.Context())
}

// retentionRules is the store, where cameras' retention rules are kept,
// when recording is on; nil otherwise.
func (a *App) retentionRules() *record.Rules {
	if a.retention == nil {
		return nil
	}
	return a.rules
}

// exportKeep is how long a release keeps its owner's footage when asked
// to without a length: record_grace, at most auth.MaxKeep; 0 (nothing
// kept) when recording is off.
func (a *App) exportKeep() time.Duration {
	if a.retention == nil {
		return 0
	}
	return min(cmp.Or(a.cfg.RecordGrace, 24*time.Hour), auth.MaxKeep)
}

// usage is what a camera's footage takes, when recording is on.
func (a *App) usage() httpapi.Usage {
	if a.retention == nil {
		return nil
	}
	return a.retention.Usage
}

// quota is a household's quota in force, when recording is on.
func (a *App) quota() httpapi.Quota {
	if a.retention == nil {
		return nil
	}
	return a.retention.Quota
}

// continuousFlags is the store, where cameras' continuous-recording flags
// are kept, when recording is on; nil otherwise.
func (a *App) continuousFlags() httpapi.ContinuousFlags {
	if a.retention == nil {
		return nil
	}
	return a.store
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
			a.close()
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

// Run serves until ctx is done, then shuts down in this order:
//
//  0. In a cluster, the node drains first (clusterSide.drain): /healthz
//     answers 503 "draining" and the cameras homed here are handed to the
//     other nodes, spread over cluster_drain, while everything else still
//     serves. Then:
//  1. At once, every component's Run returns: RTSP closes its connections
//     (cameras' and players') and waits for its play loops, the pull
//     cameras disconnect, WebRTC ends its sessions, and the revocation
//     watcher, the cluster's claims (a camera session that ends releases
//     its claim, so the camera's reconnect lands on another node at once),
//     oauth's sweeper, HomeGraph reports, the certificate manager and the
//     redirect server stop. A camera's hub stream ends with its
//     connection, and with it the HTTP responses reading it.
//  2. Together with 1, HTTP stops accepting and waits for the requests in
//     flight, up to shutdown_timeout (http.Server.Shutdown); at that bound
//     the connections still open are closed (http.Server.Close), and their
//     handlers end at their next write, which is not waited for: their
//     viewing records' ends may then fail to be written (and are logged).
//  3. Once HTTP has returned, the HLS muxers stop: no playlist in flight
//     loses its muxer.
//  4. Once every component has returned, the store is closed, and last
//     the data directory's lock is released.
func (a *App) Run(ctx context.Context) error {
	defer a.close()
	ran := make(chan struct{})
	defer close(ran)
	ctx = a.cluster.untilDrained(ctx, a.cfg.ClusterDrain, ran)
	g, gctx := errgroup.WithContext(ctx)
	drained, outputsDone := context.WithCancel(context.Background())
	defer outputsDone()
	g.Go(func() error { return a.rtsp.Run(gctx) })
	g.Go(func() error { return a.pulls.Run(gctx) })
	g.Go(func() error { return a.watchRevocations(gctx) })
	if a.cluster != nil {
		g.Go(func() error { return a.cluster.run(gctx) })
	}
	g.Go(func() error { return a.oauth.Run(gctx) })
	if a.reportsToGoogle() {
		g.Go(func() error { return a.homegraph.Run(gctx) })
	}
	g.Go(func() error { return a.webrtc.Run(gctx) })
	if a.recorder != nil {
		g.Go(func() error { return a.recorder.Run(gctx) })
		g.Go(func() error { return a.retention.Run(gctx) })
	}
	if a.alexaEvents != nil {
		g.Go(func() error { return a.alexaEvents.Run(gctx) })
	}
	g.Go(func() error { return a.hls.Run(drained) })
	if a.certs != nil {
		g.Go(func() error { return a.certs.Run(gctx) })
		g.Go(func() error { return serveUntil(gctx, a.redirect, a.redirectL, "http redirect") })
	}
	g.Go(func() error {
		defer outputsDone()
		return a.serveHTTP(gctx)
	})
	err := g.Wait()
	a.log.Info("vigil stopped")
	return err
}

// serveHTTP serves the API until ctx is done, then shuts it down within
// shutdown_timeout, closing what is still open at that bound.
func (a *App) serveHTTP(ctx context.Context) error {
	served := make(chan error, 1)
	go func() { served <- a.http.Serve(a.httpL) }()
	select {
	case err := <-served:
		return fmt.Errorf("http: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeoutCause(context.Background(), a.cfg.ShutdownTimeout,
		errors.New("shutdown took longer than shutdown_timeout"))
	defer cancel()
	err := a.http.Shutdown(sctx)
	if err != nil {
		a.http.Close()
	}
	<-served // http.ErrServerClosed
	return err
}

// serveUntil serves srv on l until ctx is done, then closes it.
func serveUntil(ctx context.Context, srv *http.Server, l net.Listener, name string) error {
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	select {
	case err := <-served:
		return fmt.Errorf("%s: %w", name, err)
	case <-ctx.Done():
	}
	err := srv.Close()
	<-served
	return err
}

// The reasons of vigil_connections_refused_total.
const (
	refusedPerAddress   = "per_address"             // at accept: the client address had as many open as allowed
	refusedFirstRequest = "first_request_too_large" // over 256 KiB sent before a first RTSP request
)

// refusals counts a port's connections refused for reason in
// vigil_connections_refused_total{port,reason}.
func (a *App) refusals(port, reason string) prometheus.Counter {
	if a.refused == nil {
		a.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_connections_refused_total",
			Help: "Connections closed unserved, by reason: per_address, at accept, because their client address had as many open as allowed; " +
				"first_request_too_large (RTSP), because they sent over 256 KiB before a first request.",
		}, []string{"port", "reason"})
		a.reg.MustRegister(a.refused)
	}
	return a.refused.WithLabelValues(port, reason)
}

// connCaps caps a port's open connections per client address at max,
// counting refusals (refusedPerAddress).
func (a *App) connCaps(port string, max int) *limit.Addresses {
	caps := limit.NewAddresses(max)
	caps.Refused = a.refusals(port, refusedPerAddress).Inc
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

// authFailures registers vigil_auth_failures_total{kind} with reg, every
// kind at zero so that a rate can be taken before the first failure, and
// returns auth's counter of it.
func authFailures(reg prometheus.Registerer) *auth.Failures {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vigil_auth_failures_total",
		Help: "Failed authentications by kind: " + strings.Join(auth.FailureKinds(), ", ") + ".",
	}, []string{"kind"})
	for _, k := range auth.FailureKinds() {
		c.WithLabelValues(k)
	}
	reg.MustRegister(c)
	return &auth.Failures{Inc: func(k string) { c.WithLabelValues(k).Inc() }}
}
