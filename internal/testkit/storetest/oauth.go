package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/oauth"
	"vigil/internal/store"
	"vigil/internal/store/backend"
)

// linkFixture stores a user and two devices for links to refer to.
func linkFixture(s backend.Store) error {
	ctx := context.Background()
	return errors.Join(s.UpsertUser(ctx, store.User{ID: "u-olga", Name: "olga"}),
		s.CreateDevice(ctx, device("cam-one", "one")), s.CreateDevice(ctx, device("cam-two", "two")))
}

func token(kind oauth.TokenKind, sig, link string, expires time.Time) oauth.Token {
	return oauth.Token{Kind: kind, SignatureSHA256: sig, Link: link, Active: true, Created: time.Now(), Expires: expires, Request: []byte(`{}`)}
}

func testOAuthLinksAndTokens(t *testing.T, b Backend) {
	s := b.open(t)
	if err := linkFixture(s); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	l := oauth.Link{ID: "lnk-1", User: "u-olga", Client: "google", AgentUserID: "agu-1", Created: time.Now(),
		Devices: []access.DeviceID{"cam-two", "cam-one"}}
	if err := s.CreateLink(ctx, l); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateLink(ctx, oauth.Link{ID: "lnk-x", User: "u-nobody", Client: "google", AgentUserID: "agu-x"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("link of an unknown user: %v", err)
	}
	if links, _ := s.LinksOf(ctx, "u-olga"); len(links) != 0 {
		t.Fatalf("a pending link is listed: %+v", links)
	}
	for _, tk := range []oauth.Token{token(oauth.KindCode, "c1", "lnk-1", time.Now().Add(time.Minute)),
		token(oauth.KindAccess, "a1", "lnk-1", time.Now().Add(-48*time.Hour)),
		token(oauth.KindRefresh, "r1", "lnk-1", time.Time{}), token(oauth.KindRefresh, "r2", "lnk-1", time.Time{})} {
		if err := s.CreateToken(ctx, tk); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateToken(ctx, token(oauth.KindCode, "c1", "lnk-1", time.Time{})); !errors.Is(err, store.ErrExists) {
		t.Fatalf("the same code twice: %v", err)
	}
	if err := s.SpendCode(ctx, "c1", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.SpendCode(ctx, "c1", time.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("spending a code twice: %v", err)
	}
	links, err := s.LinksOf(ctx, "u-olga")
	if err != nil || len(links) != 1 || links[0].UserName != "olga" || len(links[0].Devices) != 2 || links[0].Devices[0] != "cam-one" || !links[0].Live() {
		t.Fatalf("LinksOf after the code was spent: %v %+v", err, links)
	}
	if err := s.RetireRefreshTokens(ctx, "lnk-1", "r2"); err != nil {
		t.Fatal(err)
	}
	r1, _ := s.Token(ctx, oauth.KindRefresh, "r1")
	r2, _ := s.Token(ctx, oauth.KindRefresh, "r2")
	if r1.Active || !r2.Active || !r2.Expires.IsZero() {
		t.Fatalf("after rotation: r1 %+v, r2 %+v", r1, r2)
	}
	purgeResetAndRevoke(t, s)
}

// purgeResetAndRevoke continues testOAuthLinksAndTokens on lnk-1.
func purgeResetAndRevoke(t *testing.T, s backend.Store) {
	ctx := t.Context()
	// Purging: the long-expired access token and the retired refresh token
	// go; the spent code (still within its life) and r2 stay.
	if n, err := s.PurgeOAuth(ctx, time.Now().Add(-24*time.Hour), time.Now().Add(time.Second)); err != nil || n != 2 {
		t.Fatalf("PurgeOAuth: %d %v", n, err)
	}
	if _, err := s.Token(ctx, oauth.KindCode, "c1"); err != nil {
		t.Fatalf("the spent code was purged early: %v", err)
	}
	// A released camera leaves the links it was in.
	if err := s.ResetDevice(ctx, "cam-two", "claim-two"); err != nil {
		t.Fatal(err)
	}
	if l, _ := s.Link(ctx, "lnk-1"); len(l.Devices) != 1 || l.Devices[0] != "cam-one" {
		t.Fatalf("devices after a reset: %v", l.Devices)
	}
	if was, err := s.RevokeLink(ctx, "lnk-1", time.Now()); !was || err != nil {
		t.Fatalf("RevokeLink: %v %v", was, err)
	}
	if was, err := s.RevokeLink(ctx, "lnk-1", time.Now()); was || err != nil {
		t.Fatalf("RevokeLink again: %v %v", was, err)
	}
	if _, err := s.Token(ctx, oauth.KindRefresh, "r2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a revoked link's token survived: %v", err)
	}
	if err := s.SetLinkDevices(ctx, "lnk-1", nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SetLinkDevices on a revoked link: %v", err)
	}
	if l, err := s.Link(ctx, "lnk-1"); err != nil || l.Revoked.IsZero() || l.Live() {
		t.Fatalf("revoked link: %v %+v", err, l)
	}
}

// testOAuthTransactionRollsBack: what a rolled-back transaction wrote is
// gone, so a link never exists without its code.
func testOAuthTransactionRollsBack(t *testing.T, b Backend) {
	s := b.open(t)
	if err := linkFixture(s); err != nil {
		t.Fatal(err)
	}
	tctx, err := s.BeginTx(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.BeginTx(tctx); err == nil {
		t.Fatal("a nested transaction was opened")
	}
	if err := s.CreateLink(tctx, oauth.Link{ID: "lnk-1", User: "u-olga", Client: "google", AgentUserID: "agu-1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Rollback(tctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Link(t.Context(), "lnk-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a rolled-back link exists: %v", err)
	}
}
