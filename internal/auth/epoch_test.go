package auth

import (
	"context"
	"errors"
	"testing"
	"time"

	"vigil/internal/access"
)

// TestGrantCarriesTheHoldersEpoch: a grant's epoch is the Standing's Since,
// so egress can refuse what was captured before the holder's access began.
func TestGrantCarriesTheHoldersEpoch(t *testing.T) {
	since := time.Date(2026, 3, 1, 8, 0, 0, 123, time.UTC)
	dir := fakeDir{users: map[string]Principal{"viewer": {ID: "u-viewer"}},
		standing: map[access.UserID]Standing{"u-viewer": {Claimed: true, Shared: true, Since: since}}}
	s := NewService(dir, access.NewIssuer(), nil, time.Hour)
	g, err := grantFor(s, "viewer", "cam-x", access.AudienceWeb)
	if err != nil || !g.Epoch().Equal(since) {
		t.Fatalf("grant epoch %v, %v; want %v", g.Epoch(), err, since)
	}
}

// TestTokenOfARevokedShareStaysDead: a stream token minted under a share
// that was revoked is refused after the share is granted again (a new
// epoch), while a token minted under the new share works.
func TestTokenOfARevokedShareStaysDead(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	dir := fakeDir{users: map[string]Principal{"viewer": {ID: "u-viewer"}},
		standing: map[access.UserID]Standing{"u-viewer": {Claimed: true, Shared: true, Since: now.Add(-time.Hour)}}}
	tokens := NewTokens([]byte("0123456789abcdef0123456789abcdef"))
	tokens.now = clock
	s := NewService(dir, access.NewIssuer(), tokens, time.Hour)
	s.now = clock
	use := Use{Device: "cam-porch", Audiences: []access.Audience{access.AudienceWeb}}
	mint := func() string {
		return tokens.Mint(Token{User: "viewer", Device: "cam-porch", Stream: access.StreamMain,
			Audience: access.AudienceWeb, Binding: Binding{ViaSession, "live"}, Expires: now.Add(time.Hour)})
	}
	old := mint()
	if _, _, err := s.TokenGrant(context.Background(), old, use); err != nil {
		t.Fatalf("token under the first share: %v", err)
	}
	// The share is revoked and granted again a minute later: a new epoch.
	now = now.Add(time.Minute)
	dir.standing["u-viewer"] = Standing{Claimed: true, Shared: true, Since: now}
	now = now.Add(time.Millisecond)
	if _, _, err := s.TokenGrant(context.Background(), old, use); !errors.Is(err, ErrTokenRevoked) {
		t.Fatalf("token minted under the revoked share, after a re-share: %v, want ErrTokenRevoked", err)
	}
	if g, _, err := s.TokenGrant(context.Background(), mint(), use); err != nil || !g.Epoch().Equal(now.Add(-time.Millisecond)) {
		t.Fatalf("token minted under the new share: %v (epoch %v)", err, g.Epoch())
	}
}
