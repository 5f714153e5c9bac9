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
	g.Access = "Atza|rotated"
	if err := s.PutAlexaGrant(ctx, g); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.AlexaGrant(ctx, "lnk-a"); got.Access != "Atza|rotated" {
		t.Fatalf("replaced grant reads %q", got.Access)
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
