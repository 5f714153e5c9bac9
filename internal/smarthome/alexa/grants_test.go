package alexa

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeLWA is Login with Amazon's token endpoint on loopback: codes
// "good-*" exchange, refresh tokens rotate, "revoked" ones get
// invalid_grant. It counts refreshes and holds each for a moment, so that
// concurrent ones would overlap.
type fakeLWA struct {
	refreshes atomic.Int32
	exchanges atomic.Int32
}

func (f *fakeLWA) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	w.Header().Set("Content-Type", "application/json")
	if r.Form.Get("client_id") != "events-id" || r.Form.Get("client_secret") != "events-secret" {
		w.WriteHeader(401)
		w.Write([]byte(`{"error":"invalid_client"}`))
		return
	}
	var n int32
	switch r.Form.Get("grant_type") {
	case "authorization_code":
		if !strings.HasPrefix(r.Form.Get("code"), "good-") {
			w.WriteHeader(400)
			w.Write([]byte(`{"error":"invalid_grant"}`))
			return
		}
		n = f.exchanges.Add(1)
	case "refresh_token":
		if r.Form.Get("refresh_token") == "revoked" {
			w.WriteHeader(400)
			w.Write([]byte(`{"error":"invalid_grant"}`))
			return
		}
		n = 100 + f.refreshes.Add(1)
		time.Sleep(50 * time.Millisecond)
	}
	json.NewEncoder(w).Encode(map[string]any{"access_token": fmt.Sprint("Atza|access-", n),
		"refresh_token": fmt.Sprint("Atzr|refresh-", n), "token_type": "bearer", "expires_in": 3600})
}

type memGrants struct {
	mu sync.Mutex
	m  map[string]EventGrant
}

func (s *memGrants) PutEventGrant(_ context.Context, link string, g EventGrant) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[link] = g
	return nil
}

func (s *memGrants) EventGrant(_ context.Context, link string) (EventGrant, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.m[link]
	if !ok {
		return g, ErrNoGrant
	}
	return g, nil
}

func newGrants(t *testing.T) (*Grants, *fakeLWA, *memGrants) {
	lwa := &fakeLWA{}
	srv := httptest.NewServer(lwa)
	t.Cleanup(srv.Close)
	st := &memGrants{m: map[string]EventGrant{}}
	g := &Grants{TokenURL: srv.URL, Store: st, Credentials: func(client string) (Credentials, bool) {
		return Credentials{"events-id", "events-secret"}, client == "alexa"
	}}
	return g, lwa, st
}

// TestAcceptGrant: AcceptGrant exchanges its code at LWA and keeps the
// tokens for the link; a bad code is ACCEPT_GRANT_FAILED.
func TestAcceptGrant(t *testing.T) {
	links, view := twoHouseholds()
	x := newDirectives(links, view, nil)
	var st *memGrants
	x.Grants, _, st = newGrants(t)
	out := send(t, x, fixture(t, "accept_grant.json", map[string]string{"token": "tok-l-olga", "code": "good-1"}))
	if eventName(out) != "Alexa.Authorization/AcceptGrant.Response" {
		t.Fatalf("%v", out)
	}
	g, err := st.EventGrant(context.Background(), "l-olga")
	if err != nil || g.Access != "Atza|access-1" || g.Refresh != "Atzr|refresh-1" || time.Until(g.Expires) < 59*time.Minute {
		t.Fatalf("stored %+v, %v", g, err)
	}
	out = send(t, x, fixture(t, "accept_grant.json", map[string]string{"token": "tok-l-bob", "code": "bad"}))
	if eventName(out) != "Alexa.Authorization/ErrorResponse" || errorType(out) != errAcceptGrantFailed {
		t.Fatalf("bad code: %v", out)
	}
	if _, err := st.EventGrant(context.Background(), "l-bob"); !errors.Is(err, ErrNoGrant) {
		t.Fatalf("bob has a grant after a failed exchange: %v", err)
	}
	out = send(t, x, fixture(t, "accept_grant.json", map[string]string{"token": "forged", "code": "good-2"}))
	if errorType(out) != errInvalidCredential {
		t.Fatalf("forged grantee token: %v", out)
	}
}

// TestTokenRefreshesOnceBeforeExpiry: a token within five minutes of
// expiry is refreshed, once however many ask at the same time; a fresh one
// is not; invalid_grant says the grant is revoked.
func TestTokenRefreshesOnceBeforeExpiry(t *testing.T) {
	g, lwa, st := newGrants(t)
	link := Link{ID: "l-olga", Client: "alexa"}
	st.m["l-olga"] = EventGrant{Access: "old", Refresh: "r-old", Expires: time.Now().Add(4 * time.Minute)}
	var wg sync.WaitGroup
	toks := make([]string, 10)
	for i := range toks {
		wg.Go(func() {
			tok, _, err := g.Token(context.Background(), link)
			if err != nil {
				t.Error(err)
			}
			toks[i] = tok
		})
	}
	wg.Wait()
	if n := lwa.refreshes.Load(); n != 1 {
		t.Fatalf("%d refreshes for one link, want 1", n)
	}
	for _, tok := range toks {
		if tok != "Atza|access-101" {
			t.Fatalf("tokens %v", toks)
		}
	}
	if tok, _, _ := g.Token(context.Background(), link); tok != "Atza|access-101" || lwa.refreshes.Load() != 1 {
		t.Fatalf("a fresh token was refreshed: %s", tok)
	}
	st.m["l-olga"] = EventGrant{Access: "old", Refresh: "revoked", Expires: time.Now()}
	if _, _, err := g.Token(context.Background(), link); !errors.Is(err, ErrGrantRevoked) {
		t.Fatalf("invalid_grant: %v", err)
	}
	if _, _, err := g.Token(context.Background(), Link{ID: "l-none", Client: "alexa"}); !errors.Is(err, ErrNoGrant) {
		t.Fatalf("no grant: %v", err)
	}
}
