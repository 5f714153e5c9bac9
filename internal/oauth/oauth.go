// Package oauth is the authorization server for account linking (OAuth 2.0
// authorization-code flow, RFC 6749, with PKCE, RFC 7636, and revocation,
// RFC 7009), built on ory/fosite: the pages where a person signs in and
// chooses which cameras a service (Google Home, Alexa) may see, the token
// and revocation endpoints, and the links that result.
//
// It knows users and devices by their access ids and keeps its records
// through Store. It never reads media and never mints a Grant: a link only
// narrows what a service may ask for; every use still goes through auth.
// Tokens are opaque HMAC values (never JWTs); only hashes of their
// signatures are stored, and no code, token or secret is ever logged.
package oauth

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/oauth2"

	"vigil/internal/access"
	"vigil/internal/auth"
	"vigil/internal/config"
	"vigil/internal/store"
)

// Lifetimes unless configured otherwise. Refresh tokens slide: each
// refresh issues a new one with a fresh lifetime, so a link in use never
// expires, and one unused for a year does.
const (
	DefaultAccessTTL  = time.Hour
	DefaultCodeTTL    = 5 * time.Minute
	DefaultRefreshTTL = 365 * 24 * time.Hour
)

// How long records stay after they stop working: an expired access token
// a day (so Resolve says "expired" and the client refreshes, rather than
// "invalid" and the client unlinks), a retired refresh token 30 days (so
// its reuse is still detected).
const (
	expiredKept = 24 * time.Hour
	retiredKept = 30 * 24 * time.Hour
	purgeEvery  = time.Hour
)

// Account is a signed-in person as the authorization pages see them.
type Account struct {
	ID   access.UserID
	Name string
	// CSRF is the session's token; the consent form must send it back.
	CSRF string
}

// SignIn is the web sign-in, shared with the web UI so that one session
// serves both.
type SignIn interface {
	// SignedIn returns the account of r's session, or an error if none.
	SignedIn(r *http.Request) (Account, error)
	// SignIn checks a password (throttled) and starts a session, setting
	// its cookie on w. A refusal is a *RefusedError.
	SignIn(w http.ResponseWriter, r *http.Request, name, password string) (Account, error)
}

// Camera is a camera a person may expose on the consent page.
type Camera struct {
	ID     access.DeviceID
	Name   string
	Shared bool // shared with the person, not owned
}

// Cameras lists the cameras a user may see (owned and shared).
type Cameras interface {
	Cameras(ctx context.Context, user access.UserID) ([]Camera, error)
}

// Principals looks users up by name, to refuse disabled accounts.
type Principals interface {
	Principal(ctx context.Context, name string) (auth.Principal, error)
}

// Config is what the Server is built from.
type Config struct {
	Store   Store
	Clients []config.OAuthClient
	// Master is the master key; the tokens' HMAC key is derived from it.
	Master  []byte
	SignIn  SignIn
	Cameras Cameras
	Users   Principals
	// OnUnlink runs after a link ends — unlinked by its user, revoked by
	// its service, or ended because a code or refresh token was replayed —
	// so that the app can end its live sessions and stop reporting it.
	OnUnlink func(Link)
	// AccessTTL, CodeTTL and RefreshTTL default to DefaultAccessTTL,
	// DefaultCodeTTL and DefaultRefreshTTL.
	AccessTTL, CodeTTL, RefreshTTL time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// SecureCookies marks the sign-in page's cookie Secure also on plain
	// connections (behind an https proxy). It defaults to false.
	SecureCookies bool
}

// Server is the authorization server and the registry of links.
type Server struct {
	st       Store
	fs       *fositeStore
	provider fosite.OAuth2Provider
	strategy oauth2.CoreStrategy
	clients  map[string]*Client
	signIn   SignIn
	cameras  Cameras
	users    Principals
	onUnlink func(Link)
	pages    *pages
	// secureCookies: see Config.SecureCookies.
	secureCookies bool
	log           *slog.Logger
	now           func() time.Time
	// addrFails throttles wrong client secrets at the token and
	// revocation endpoints per caller address (see throttled).
	addrFails *auth.Throttle
}

// New validates cfg and returns a ready Server.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.SignIn == nil || cfg.Cameras == nil || cfg.Users == nil {
		return nil, errors.New("oauth: Store, SignIn, Cameras and Users are required")
	}
	if len(cfg.Master) < 32 {
		return nil, errors.New("oauth: the master key must be at least 32 bytes")
	}
	// The tokens' HMAC key is the master key's, separated from its other
	// uses (sealing, stream tokens) by HKDF's salt; it is never stored.
	secret, err := hkdf.Key(sha256.New, cfg.Master, []byte("vigil oauth v1"), "fosite global secret", 32)
	if err != nil {
		return nil, fmt.Errorf("oauth: derive token key: %w", err)
	}
	s := &Server{st: cfg.Store, clients: map[string]*Client{}, signIn: cfg.SignIn, cameras: cfg.Cameras,
		users: cfg.Users, onUnlink: cfg.OnUnlink, log: cfg.Logger, now: time.Now, secureCookies: cfg.SecureCookies,
		addrFails: auth.NewThrottle(auth.AddressFailures)}
	if s.log == nil {
		s.log = slog.Default()
	}
	for _, c := range cfg.Clients {
		s.clients[c.ID] = newClient(c)
	}
	if s.pages, err = newPages(); err != nil {
		return nil, err
	}
	s.fs = &fositeStore{st: cfg.Store, clients: s.clients, now: s.now, revoke: s.revoke}
	fc := &fosite.Config{
		AccessTokenLifespan:   orDefault(cfg.AccessTTL, DefaultAccessTTL),
		AuthorizeCodeLifespan: orDefault(cfg.CodeTTL, DefaultCodeTTL),
		RefreshTokenLifespan:  orDefault(cfg.RefreshTTL, DefaultRefreshTTL),
		GlobalSecret:          secret,
		// Set every strategy fosite would otherwise fill in lazily, and so
		// racily, on first use.
		ScopeStrategy:            anyScope,
		AudienceMatchingStrategy: fosite.DefaultAudienceMatchingStrategy,
		ClientSecretsHasher:      secretHasher{},
		// RFC 7636: PKCE is optional (not every assistant sends it), but a
		// challenge, when offered, must be S256; plain is refused.
		EnforcePKCE:                    false,
		EnablePKCEPlainChallengeMethod: false,
		OmitRedirectScopeParam:         true,
		// Every link gets a refresh token (Google requires one with an
		// expiring access token), whatever scope was asked for; fosite
		// would otherwise want "offline".
		RefreshTokenScopes: []string{},
		// Redirect URIs were held to https or loopback by config.Validate
		// and are matched exactly before fosite sees a request.
		RedirectSecureChecker: func(context.Context, *url.URL) bool { return true },
	}
	strategy := compose.NewOAuth2HMACStrategy(fc)
	s.strategy = strategy
	s.provider = compose.Compose(fc, s.fs, strategy,
		compose.OAuth2AuthorizeExplicitFactory,
		compose.OAuth2PKCEFactory, // after the code handler, which it needs
		compose.OAuth2RefreshTokenGrantFactory,
		compose.OAuth2TokenRevocationFactory,
	)
	return s, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Run purges expired records every hour until ctx is done.
func (s *Server) Run(ctx context.Context) error {
	t := time.NewTicker(purgeEvery)
	defer t.Stop()
	for {
		now := s.now()
		n, err := s.st.PurgeOAuth(ctx, now.Add(-expiredKept), now.Add(-retiredKept))
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Error("oauth: purge failed", "error", err)
		case n > 0:
			s.log.Debug("oauth: purged expired records", "rows", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Client returns a configured client.
func (s *Server) Client(id string) (Client, bool) {
	c, ok := s.clients[id]
	if !ok {
		return Client{}, false
	}
	return *c, true
}

// Resolve returns the live link an access token (the bearer of a request
// from a linked service) belongs to. It fails with ErrTokenExpired for an
// expired token — the service should refresh — and ErrTokenInvalid for
// anything else: unknown, forged, revoked, or its link or user ended.
func (s *Server) Resolve(ctx context.Context, accessToken string) (Link, error) {
	req, err := s.fs.GetAccessTokenSession(ctx, s.strategy.AccessTokenSignature(ctx, accessToken), nil)
	if errors.Is(err, fosite.ErrNotFound) || errors.Is(err, fosite.ErrInactiveToken) {
		return Link{}, ErrTokenInvalid
	}
	if err != nil {
		return Link{}, fmt.Errorf("resolve token: %w", err)
	}
	if err := s.strategy.ValidateAccessToken(ctx, req, accessToken); err != nil {
		if errors.Is(err, fosite.ErrTokenExpired) {
			return Link{}, ErrTokenExpired
		}
		return Link{}, ErrTokenInvalid
	}
	l, err := s.activeLink(ctx, req.GetID(), true)
	if errors.Is(err, ErrNotFound) {
		return Link{}, fmt.Errorf("%w: %w", ErrTokenInvalid, err)
	}
	return l, err
}

// activeLink returns a link that has not been revoked and whose user is
// active; complete requires it to be linked too (a pending link exists
// between consent and the code exchange).
func (s *Server) activeLink(ctx context.Context, id string, complete bool) (Link, error) {
	l, err := s.st.Link(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return Link{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return Link{}, fmt.Errorf("link %s: %w", id, err)
	}
	if !l.Revoked.IsZero() || (complete && l.Linked.IsZero()) {
		return Link{}, fmt.Errorf("%w: %s has ended", ErrNotFound, id)
	}
	p, err := s.users.Principal(ctx, l.UserName)
	if err != nil || p.Disabled || p.ID != l.User {
		return Link{}, fmt.Errorf("%w: the user of %s is disabled or gone (%v)", ErrNotFound, id, err)
	}
	return l, nil
}

// Link returns a live link.
func (s *Server) Link(ctx context.Context, id string) (Link, error) {
	return s.activeLink(ctx, id, true)
}

// Links returns the user's live links, oldest first.
func (s *Server) Links(ctx context.Context, user access.UserID) ([]Link, error) {
	links, err := s.st.LinksOf(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("links of %s: %w", user, err)
	}
	return links, nil
}

// Unlink ends one of the user's links: all of its tokens stop working at
// once, and OnUnlink runs (what Google's DISCONNECT asks for). Someone
// else's link is ErrNotFound.
func (s *Server) Unlink(ctx context.Context, user access.UserID, id string) error {
	l, err := s.st.Link(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (l.User != user || !l.Revoked.IsZero())) {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return fmt.Errorf("unlink %s: %w", id, err)
	}
	return s.revoke(ctx, id)
}

// revoke ends a link and all of its tokens. OnUnlink runs once, after the
// transaction on ctx (if any) commits. An unknown link is fosite's
// ErrNotFound, which its revocation handler takes for "already revoked".
func (s *Server) revoke(ctx context.Context, id string) error {
	l, err := s.st.Link(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return fosite.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("revoke link %s: %w", id, err)
	}
	was, err := s.st.RevokeLink(ctx, id, s.now())
	if err != nil {
		return err
	}
	if was {
		l.Revoked = s.now()
		afterCommit(ctx, func() {
			s.log.Info("audit", "event", "unlink", "link", l.ID, "user", l.User, "client", l.Client)
			if s.onUnlink != nil {
				s.onUnlink(l)
			}
		})
	}
	return nil
}

// SetDevices changes which cameras one of the user's live links exposes;
// each must be one the user can see now.
func (s *Server) SetDevices(ctx context.Context, user access.UserID, id string, devices []access.DeviceID) error {
	l, err := s.activeLink(ctx, id, false)
	if err != nil {
		return err
	}
	if l.User != user {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	devices, err = s.visible(ctx, user, devices)
	if err != nil {
		return err
	}
	if err := s.st.SetLinkDevices(ctx, id, devices); err != nil {
		return fmt.Errorf("set devices of %s: %w", id, err)
	}
	return nil
}

// visible checks that user can see every device, and returns them sorted
// without repeats.
func (s *Server) visible(ctx context.Context, user access.UserID, devices []access.DeviceID) ([]access.DeviceID, error) {
	cams, err := s.cameras.Cameras(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("cameras of %s: %w", user, err)
	}
	for _, d := range devices {
		if !slices.ContainsFunc(cams, func(c Camera) bool { return c.ID == d }) {
			return nil, fmt.Errorf("%w: %s", ErrUnknownDevice, d)
		}
	}
	out := slices.Clone(devices)
	slices.Sort(out)
	return slices.Compact(out), nil
}
