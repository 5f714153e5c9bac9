package storetest

import (
	"errors"
	"testing"
	"time"

	"vigil/internal/oauth"
	"vigil/internal/store"
)

// testAlexaGrants: an Alexa link's event tokens are sealed where the store
// keeps them, read back whole, replaced, do not open under another master
// key, are refused for a link that is not live, and go when the link is
// revoked.
func testAlexaGrants(t *testing.T, b Backend) {
	ctx := t.Context()
	where := b.New(t)
	s := b.openAt(t, where, Secrets(t, 1))
	if err := linkFixture(s); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateLink(ctx, oauth.Link{ID: "lnk-a", User: "u-olga", Client: "alexa", AgentUserID: "agu-a", Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	g := store.AlexaGrant{Link: "lnk-a", Access: "Atza|secret-access-token", Refresh: "Atzr|secret-refresh-token",
		Expires: time.Now().Add(time.Hour).Round(0), Region: "EU"}
	if err := s.PutAlexaGrant(ctx, g); err != nil {
		t.Fatal(err)
	}
	got, err := s.AlexaGrant(ctx, "lnk-a")
	if err != nil || got.Access != g.Access || got.Refresh != g.Refresh || !got.Expires.Equal(g.Expires) || got.Region != "EU" {
		t.Fatalf("read back %+v, %v", got, err)
	}
	if !got.Relink.IsZero() {
		t.Fatalf("a new grant waits for relinking since %v", got.Relink)
	}
	g.Relink = time.Now().Round(0)
	if err := s.PutAlexaGrant(ctx, g); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.AlexaGrant(ctx, "lnk-a"); !got.Relink.Equal(g.Relink) {
		t.Fatalf("marked for relinking at %v, reads %v", g.Relink, got.Relink)
	}
	g.Access, g.Relink = "Atza|rotated", time.Time{}
	if err := s.PutAlexaGrant(ctx, g); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.AlexaGrant(ctx, "lnk-a"); got.Access != "Atza|rotated" || !got.Relink.IsZero() {
		t.Fatalf("replaced grant reads %q, relink %v", got.Access, got.Relink)
	}
	for _, secret := range []string{"secret-refresh-token", "Atza|rotated"} {
		if b.Holds(t, where, secret) {
			t.Errorf("the store holds %q in clear", secret)
		}
	}
	wrong := b.openAt(t, where, Secrets(t, 2))
	if _, err := wrong.AlexaGrant(ctx, "lnk-a"); err == nil {
		t.Fatal("the grant opened under another master key")
	}
	if err := s.PutAlexaGrant(ctx, store.AlexaGrant{Link: "lnk-none", Access: "a", Refresh: "r"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("grant for a missing link: %v", err)
	}
	if _, err := s.RevokeLink(ctx, "lnk-a", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AlexaGrant(ctx, "lnk-a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the grant outlived its link: %v", err)
	}
	if err := s.PutAlexaGrant(ctx, g); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("grant stored for a revoked link: %v", err)
	}
}

// testAlexaSeen: when an Alexa link was last used is kept per live link,
// never moves back, is refused for a link that is not live, and goes with
// the link.
func testAlexaSeen(t *testing.T, b Backend) {
	ctx := t.Context()
	s := b.open(t)
	if err := linkFixture(s); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateLink(ctx, oauth.Link{ID: "lnk-a", User: "u-olga", Client: "alexa", AgentUserID: "agu-a", Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if at, err := s.AlexaLinkSeen(ctx, "lnk-a"); err != nil || !at.IsZero() {
		t.Fatalf("never seen: %v, %v", at, err)
	}
	later, earlier := time.Now().Round(0), time.Now().Add(-time.Hour)
	for _, at := range []time.Time{later, earlier} {
		if err := s.SeeAlexaLink(ctx, "lnk-a", at); err != nil {
			t.Fatal(err)
		}
	}
	if at, err := s.AlexaLinkSeen(ctx, "lnk-a"); err != nil || !at.Equal(later) {
		t.Fatalf("seen %v, %v; want %v (an earlier use does not move it back)", at, err, later)
	}
	if err := s.SeeAlexaLink(ctx, "lnk-none", later); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("seen for a missing link: %v", err)
	}
	if _, err := s.RevokeLink(ctx, "lnk-a", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.SeeAlexaLink(ctx, "lnk-a", later); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("seen for a revoked link: %v", err)
	}
}
