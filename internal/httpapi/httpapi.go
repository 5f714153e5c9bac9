// Package httpapi owns Vigil's HTTP surface: health, metrics and, later, the
// JSON API and web UI. Handlers never read media without a Grant.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"vigil/internal/auth"
)

// Health reports whether a dependency is usable; nil means healthy.
// ErrDraining (wrapped or not) means the node is leaving.
type Health func(r *http.Request) error

// ErrDraining is what Health returns while the node drains before it
// stops: /healthz answers 503 with the status "draining", so a load
// balancer sends new connections elsewhere.
var ErrDraining = errors.New("draining")

// Principals looks users up by name.
type Principals interface {
	Principal(ctx context.Context, name string) (auth.Principal, error)
}

// Config is what the HTTP surface is built from.
type Config struct {
	Registry *prometheus.Registry
	Health   Health
	Users    Principals
	// Media serves the camera outputs; nil leaves them out.
	Media *Media
	// API serves cameras, claiming and sharing; nil leaves it out.
	API *API
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Authn signs requests in; it defaults to HTTP Basic against Users.
	Authn *Authenticator
	// CORSOrigins may fetch media from their pages.
	CORSOrigins []string
	// UI holds the web page's files; nil leaves the page out.
	UI fs.FS
	// OAuth serves account linking; nil leaves /oauth out.
	OAuth OAuth
	// Google is the Google Home fulfillment (it authorizes each request by
	// its bearer token); nil leaves it out.
	Google http.Handler
	// Alexa is the Alexa skill backend (it authorizes each directive by
	// the token inside it); nil leaves it out.
	Alexa http.Handler
	// AlexaSnapshot serves the snapshot URLs the Alexa skill answers
	// GetSnapshot with (it authorizes each by the link's bearer token); nil
	// leaves it out.
	AlexaSnapshot http.Handler
	// BodyTimeout bounds reading a request's body, from the end of its
	// headers; 0 leaves it unbounded.
	BodyTimeout time.Duration
	// WriteTimeout bounds every write of every response (see
	// writeDeadline). It defaults to 10 s.
	WriteTimeout time.Duration
	// TrustedProxies are the only peers whose X-Forwarded-For is believed
	// (see clientAddr). It defaults to none.
	TrustedProxies []netip.Prefix
	// GoogleWebRTC is Google's WebRTC signaling (google.Signaling); nil
	// leaves it out.
	GoogleWebRTC Signaling
}

// Signaling answers a smart display's WebRTC signaling for a camera.
type Signaling interface {
	Serve(w http.ResponseWriter, r *http.Request) error
	Preflight(w http.ResponseWriter, r *http.Request)
}

// OAuth is the authorization server for account linking (oauth.Server).
// Its endpoints authenticate on their own terms: the pages sign people in
// (with the same sessions), the token and revocation endpoints take the
// client's secret.
type OAuth interface {
	Authorize(w http.ResponseWriter, r *http.Request)
	Token(w http.ResponseWriter, r *http.Request)
	Revoke(w http.ResponseWriter, r *http.Request)
}

// Handler returns the HTTP routes. /healthz is open (it reveals nothing but
// "ok"); /metrics names cameras, so it needs the admin's credentials.
func Handler(cfg Config) *Router {
	mux := &Router{mux: http.NewServeMux(), proxies: cfg.TrustedProxies, requests: newRequestMetrics(cfg.Registry)}
	gatherer, health := cfg.Registry, cfg.Health
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	au := cfg.Authn
	if au == nil {
		au = &Authenticator{Credentials: &auth.SignIn{Users: cfg.Users, Accounts: auth.NewThrottle(auth.AccountFailures),
			Addresses: auth.NewThrottle(auth.AddressFailures), Hasher: auth.NewHasher(0, -1)}}
	}
	if cfg.Media != nil {
		cfg.Media.routes(mux, cfg.Registry)
	}
	if cfg.API != nil {
		cfg.API.routes(mux)
	}
	if cfg.UI != nil {
		uiRoutes(mux, cfg.UI)
	}
	if cfg.Google != nil {
		mux.Handle("POST /google/fulfillment", cfg.Google)
	}
	if cfg.Alexa != nil {
		mux.Handle("POST /alexa/directive", cfg.Alexa)
	}
	if cfg.AlexaSnapshot != nil {
		mux.Handle("GET /alexa/snapshot/{id}", cfg.AlexaSnapshot)
	}
	if cfg.GoogleWebRTC != nil {
		mux.Handle("POST /api/cameras/{id}/google/webrtc", serve(log, cfg.GoogleWebRTC.Serve))
		mux.Handle("OPTIONS /api/cameras/{id}/google/webrtc", http.HandlerFunc(cfg.GoogleWebRTC.Preflight))
	}
	if cfg.OAuth != nil {
		mux.Handle("GET /oauth/authorize", http.HandlerFunc(cfg.OAuth.Authorize))
		mux.Handle("POST /oauth/authorize", http.HandlerFunc(cfg.OAuth.Authorize))
		mux.Handle("POST /oauth/token", http.HandlerFunc(cfg.OAuth.Token))
		mux.Handle("POST /oauth/revoke", http.HandlerFunc(cfg.OAuth.Revoke))
	}
	mux.Handle("GET /healthz", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if err := health(r); err != nil {
			status := "unhealthy"
			if errors.Is(err, ErrDraining) {
				status = "draining"
			}
			w.WriteHeader(http.StatusServiceUnavailable)
			json.NewEncoder(w).Encode(map[string]string{"status": status})
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"status": "ok"})
	}))
	mux.Handle("GET /metrics", adminOnly(log, au, promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{})))
	// Profiles for operators (go tool pprof -http : http://admin:…@host/debug/pprof/profile).
	mux.Handle("GET /debug/pprof/", adminOnly(log, au, http.HandlerFunc(pprof.Index)))
	mux.Handle("GET /debug/pprof/profile", adminOnly(log, au, http.HandlerFunc(pprof.Profile)))
	mux.handler = bodyDeadline(cfg.BodyTimeout, writeDeadline(cfg.WriteTimeout, cors(cfg.CORSOrigins, mux.mux)))
	return mux
}

// Router is the HTTP surface. It remembers its route patterns, so tests can
// hold every route to the access matrix.
type Router struct {
	mux      *http.ServeMux
	handler  http.Handler
	patterns []string
	proxies  []netip.Prefix
	requests *requestMetrics // nil without a registry
}

// Handle registers a route.
func (rt *Router) Handle(pattern string, h http.Handler) {
	rt.patterns = append(rt.patterns, pattern)
	rt.mux.Handle(pattern, rt.requests.instrument(pattern, h))
}

// Patterns lists the registered routes.
func (rt *Router) Patterns() []string { return slices.Clone(rt.patterns) }

// ServeHTTP decides the request's client address (withClient) before any
// handler sees it.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt.handler.ServeHTTP(w, withClient(r, rt.proxies))
}

// adminOnly lets only admins through, signed in as for any other route
// (session, Basic with password or API token; Prometheus uses basic_auth).
func adminOnly(log *slog.Logger, au *Authenticator, next http.Handler) http.Handler {
	return serve(log, func(w http.ResponseWriter, r *http.Request) error {
		p, err := au.user(r, auth.ScopeView)
		if err != nil {
			return err
		}
		if !p.Admin {
			return httpError(http.StatusForbidden, "admins only", nil)
		}
		next.ServeHTTP(w, r)
		return nil
	})
}
