package oauth_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"

	"vigil/internal/access"
	"vigil/internal/auth"
	"vigil/internal/config"
	"vigil/internal/oauth"
	"vigil/internal/oauth/oauthtest"
	"vigil/internal/store"
	"vigil/internal/store/sqlite"
	"vigil/internal/testkit"
)

const (
	clientID     = "google"
	clientSecret = "google-secret-0123456789"
	redirectURI  = "https://oauth-redirect.googleusercontent.com/r/vigil-test"
	password     = "olga's password"
)

// harness is an authorization server on a SQLite store, with people who
// sign in with a fake session cookie.
type harness struct {
	st      *sqlite.Store
	srv     *oauth.Server
	http    *httptest.Server
	people  *people
	cameras []oauth.Camera
	master  []byte
	dir     string // the database's directory
	logs    *testkit.Buffer

	mu       sync.Mutex
	unlinked []oauth.Link // guarded by mu
}

func newHarness(t *testing.T, mutate func(*oauth.Config)) *harness {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "vigil.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := &harness{st: st, people: &people{disabled: map[string]bool{}}, master: make([]byte, 32), dir: dir, logs: &testkit.Buffer{}}
	ctx := context.Background()
	for _, name := range []string{"olga", "vera"} {
		if err := st.UpsertUser(ctx, store.User{ID: access.UserID("u-" + name), Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	for _, cam := range []string{"cam-porch", "cam-garage"} {
		d := store.Device{ID: access.DeviceID(cam), Name: cam[4:], Credential: auth.HashCredential(cam, "camera password")}
		if err := st.CreateDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
		h.cameras = append(h.cameras, oauth.Camera{ID: access.DeviceID(cam), Name: cam[4:]})
	}
	cfg := oauth.Config{Store: st, Master: h.master, SignIn: h.people, Cameras: h, Users: h.people,
		Clients: []config.OAuthClient{{ID: clientID, Name: "Google Home", Kind: config.OAuthGoogle, Secret: clientSecret,
			RedirectURIs: []string{redirectURI}}},
		OnUnlink: func(l oauth.Link) { h.mu.Lock(); h.unlinked = append(h.unlinked, l); h.mu.Unlock() },
		Logger:   slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if mutate != nil {
		mutate(&cfg)
	}
	if h.srv, err = oauth.New(cfg); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/oauth/authorize", h.srv.Authorize)
	mux.HandleFunc("POST /oauth/token", h.srv.Token)
	mux.HandleFunc("POST /oauth/revoke", h.srv.Revoke)
	h.http = httptest.NewServer(mux)
	t.Cleanup(h.http.Close)
	return h
}

func (h *harness) client(t *testing.T) *oauthtest.Client {
	return oauthtest.New(t, h.http.URL, clientID, clientSecret, redirectURI)
}

// Cameras: olga and vera may both see every camera.
func (h *harness) Cameras(context.Context, access.UserID) ([]oauth.Camera, error) {
	return h.cameras, nil
}

func (h *harness) unlinks() []oauth.Link {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]oauth.Link(nil), h.unlinked...)
}

// people signs in with one password for everyone; the session cookie is
// the user's name.
type people struct {
	mu       sync.Mutex
	disabled map[string]bool // guarded by mu
}

func (p *people) disable(name string) { p.mu.Lock(); p.disabled[name] = true; p.mu.Unlock() }

func (p *people) SignedIn(r *http.Request) (oauth.Account, error) {
	c, err := r.Cookie("test_session")
	if err != nil {
		return oauth.Account{}, err
	}
	return oauth.Account{ID: access.UserID("u-" + c.Value), Name: c.Value, CSRF: "csrf-" + c.Value}, nil
}

func (p *people) SignIn(w http.ResponseWriter, _ *http.Request, name, pw string) (oauth.Account, error) {
	if pw != password || (name != "olga" && name != "vera") {
		return oauth.Account{}, &oauth.RefusedError{Code: http.StatusUnauthorized, Msg: "wrong user or password", Err: errors.New(name)}
	}
	http.SetCookie(w, &http.Cookie{Name: "test_session", Value: name, Path: "/"})
	return oauth.Account{ID: access.UserID("u-" + name), Name: name, CSRF: "csrf-" + name}, nil
}

func (p *people) Principal(_ context.Context, name string) (auth.Principal, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if name != "olga" && name != "vera" {
		return auth.Principal{}, fmt.Errorf("%w: %s", auth.ErrUnknown, name)
	}
	return auth.Principal{ID: access.UserID("u-" + name), Disabled: p.disabled[name]}, nil
}
