package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"vigil/internal/access"
)

// fakeDir is a directory of users and standings.
type fakeDir struct {
	users    map[string]Principal
	standing map[access.UserID]Standing
}

func (f fakeDir) DeviceCredential(context.Context, access.DeviceID) (Credential, error) {
	return Credential{}, nil
}

func (f fakeDir) Principal(_ context.Context, name string) (Principal, error) {
	p, ok := f.users[name]
	if !ok {
		return p, fmt.Errorf("%w: %s", ErrUnknown, name)
	}
	return p, nil
}

func (f fakeDir) Standing(_ context.Context, user access.UserID, _ access.DeviceID) (Standing, error) {
	return f.standing[user], nil
}

func TestGrantRules(t *testing.T) {
	now := time.Now()
	dir := fakeDir{
		users: map[string]Principal{
			"owner": {ID: "u-owner"}, "viewer": {ID: "u-viewer"}, "expired": {ID: "u-expired"},
			"stranger": {ID: "u-stranger"}, "disabled": {ID: "u-disabled", Disabled: true},
			"admin": {ID: "u-admin", Admin: true}, "admin2": {ID: "u-admin2", Admin: true},
			"offcam": {ID: "u-offcam"},
		},
		standing: map[access.UserID]Standing{
			"u-owner":    {Claimed: true, Owner: true},
			"u-viewer":   {Claimed: true, Shared: true, ShareUntil: now.Add(time.Minute)},
			"u-expired":  {Claimed: true, Shared: true, ShareUntil: now.Add(-time.Minute)},
			"u-stranger": {Claimed: true},
			"u-disabled": {Claimed: true, Owner: true},
			"u-admin":    {Claimed: true},
			"u-admin2":   {Claimed: false},
			"u-offcam":   {Claimed: true, Owner: true, DeviceDisabled: true},
		},
	}
	s := NewService(dir, access.NewIssuer(), nil, time.Hour)
	tests := []struct {
		user string
		want error
	}{
		{"owner", nil}, {"viewer", nil}, {"expired", ErrForbidden}, {"stranger", ErrForbidden},
		{"disabled", ErrDisabled}, {"admin", ErrForbidden}, {"admin2", nil}, {"offcam", ErrDisabled},
		{"nobody", ErrUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			g, err := grantFor(s, tt.user, "cam-x", access.AudienceWeb)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Grant: %v, want %v", err, tt.want)
			}
			if err == nil && g.Check("cam-x", time.Now(), time.Now()) != nil {
				t.Fatal("minted grant does not allow its device")
			}
		})
	}
	// A share's grant ends with the share.
	g, _ := grantFor(s, "viewer", "cam-x", access.AudienceWeb)
	if g.Expiry().After(now.Add(time.Minute + time.Second)) {
		t.Fatalf("share grant lasts until %v, past the share's end", g.Expiry())
	}
}

func TestRevocationEndsGrantsAtOnce(t *testing.T) {
	dir := fakeDir{
		users:    map[string]Principal{"viewer": {ID: "u-viewer"}, "owner": {ID: "u-owner"}},
		standing: map[access.UserID]Standing{"u-viewer": {Claimed: true, Shared: true}, "u-owner": {Claimed: true, Owner: true}},
	}
	s := NewService(dir, access.NewIssuer(), nil, time.Hour)
	gv, _ := grantFor(s, "viewer", "cam-x", access.AudienceWeb)
	go2, _ := grantFor(s, "owner", "cam-x", access.AudienceRTSP)
	s.Revoke("u-viewer", "cam-x")
	select {
	case <-gv.Done():
	default:
		t.Fatal("viewer's grant still live after Revoke")
	}
	if !errors.Is(gv.Check("cam-x", time.Now(), time.Now()), access.ErrGrantRevoked) {
		t.Fatal("Check passes a revoked grant")
	}
	if go2.Check("cam-x", time.Now(), time.Now()) != nil {
		t.Fatal("revoking the viewer ended the owner's grant")
	}
	s.RevokeDevice("cam-x")
	if go2.Check("cam-x", time.Now(), time.Now()) == nil {
		t.Fatal("RevokeDevice left the owner's grant live")
	}
	// A grant minted after a revocation gets a fresh lease.
	g3, _ := grantFor(s, "owner", "cam-x", access.AudienceRTSP)
	if g3.Check("cam-x", time.Now(), time.Now()) != nil {
		t.Fatal("a new grant was born revoked")
	}
}

func TestClaimHashIgnoresHowPeopleType(t *testing.T) {
	code, err := NewClaimCode()
	if err != nil {
		t.Fatal(err)
	}
	if ClaimHash(code) != ClaimHash(" "+strings.ToUpper(strings.ReplaceAll(code, "-", " "))+" ") {
		t.Fatalf("code %q: spacing or case changed its hash", code)
	}
	if ClaimHash(code) == ClaimHash(code+"x") {
		t.Fatal("different codes, same hash")
	}
}

// Session knows every session but "gone": the token tests' directories
// hold one user, whose sessions they all are.
func (f fakeDir) Session(_ context.Context, id string, _ time.Time) (Session, error) {
	if id == "gone" {
		return Session{}, errors.New("ended")
	}
	for _, p := range f.users {
		return Session{IDSHA256: id, User: p.ID}, nil // the fakes hold one user
	}
	return Session{}, errors.New("no users")
}

func (f fakeDir) PasswordHash(context.Context, access.UserID) (string, error) { return "", nil }

// LinkHolder knows live links of the directory's one user.
func (f fakeDir) LinkHolder(_ context.Context, id string) (access.UserID, bool, error) {
	s, err := f.Session(context.Background(), id, time.Time{})
	return s.User, true, err
}

// TestTokenRenewsWhileUsed: an expired token keeps working for a viewing
// session that keeps using it, and only for it: a token never used, or
// left unused for renewGap, stays expired; a token whose session ended
// is refused even while it is being used.
func TestTokenRenewsWhileUsed(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	dir := fakeDir{users: map[string]Principal{"owner": {ID: "u-owner"}},
		standing: map[access.UserID]Standing{"u-owner": {Claimed: true, Owner: true}}}
	tokens := NewTokens([]byte("0123456789abcdef0123456789abcdef"))
	tokens.now = clock
	s := NewService(dir, access.NewIssuer(), tokens, time.Hour)
	s.now = clock
	use := Use{Device: "cam-porch", Audiences: []access.Audience{access.AudienceGoogle}}
	mint := func(session string, ttl time.Duration) string {
		return tokens.Mint(Token{User: "owner", Device: "cam-porch", Stream: access.StreamMain,
			Audience: access.AudienceGoogle, Binding: Binding{ViaSession, session}, Expires: now.Add(ttl)})
	}
	grant := func(raw string) error { _, _, err := s.TokenGrant(context.Background(), raw, use); return err }

	playing, idle, ended := mint("live", time.Minute), mint("live", 2*time.Minute), mint("gone", time.Minute)
	if err := grant(playing); err != nil {
		t.Fatal(err)
	}
	if err := grant(ended); !errors.Is(err, ErrTokenRevoked) {
		t.Fatalf("token of an ended session: %v", err)
	}
	// Three hours of playback, a playlist reload every 2 s.
	for end := now.Add(3 * time.Hour); now.Before(end); now = now.Add(2 * time.Second) {
		if err := grant(playing); err != nil {
			t.Fatalf("renewal failed %v into the view: %v", now.Sub(end.Add(-3*time.Hour)), err)
		}
	}
	if err := grant(idle); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("a token never used renewed: %v", err)
	}
	now = now.Add(renewGap)
	if err := grant(playing); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("a token left unused for %v renewed: %v", renewGap, err)
	}
}

// TestTokenLeasesGrowWithLinksOnly: tokens minted in many sign-in sessions
// share the user's lease for a camera; only an account link gets its own,
// so that ending the link ends its views alone.
func TestTokenLeasesGrowWithLinksOnly(t *testing.T) {
	dir := fakeDir{users: map[string]Principal{"owner": {ID: "u-owner"}},
		standing: map[access.UserID]Standing{"u-owner": {Claimed: true, Owner: true}}}
	tokens := NewTokens([]byte("0123456789abcdef0123456789abcdef"))
	s := NewService(dir, access.NewIssuer(), tokens, time.Hour)
	use := Use{Device: "cam-porch", Audiences: []access.Audience{access.AudienceWeb, access.AudienceGoogle}}
	var linkGrant access.Grant
	for i := range 50 {
		session, aud := Binding{ViaSession, fmt.Sprintf("session-%d", i)}, access.AudienceWeb
		if i == 0 {
			session, aud = Binding{ViaLink, "link-1"}, access.AudienceGoogle
		}
		raw := tokens.Mint(Token{User: "owner", Device: "cam-porch", Stream: access.StreamMain, Audience: aud,
			Binding: session, Expires: time.Now().Add(time.Minute)})
		g, _, err := s.TokenGrant(context.Background(), raw, use)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			linkGrant = g
		}
	}
	if n := len(s.leases); n != 2 {
		t.Fatalf("%d leases for 49 sign-in sessions and one link, want 2", n)
	}
	s.RevokeBound(Binding{ViaLink, "link-1"})
	if linkGrant.Check("cam-porch", time.Now(), time.Now()) == nil || len(s.leases) != 1 {
		t.Fatalf("the link's grant outlived RevokeBound (%d leases left)", len(s.leases))
	}
}

// grantFor resolves the user name as a caller who signed in with the
// password, as the edge does, and asks for a grant.
func grantFor(s *Service, name string, device access.DeviceID, aud access.Audience) (access.Grant, error) {
	p, err := s.active(context.Background(), name)
	if err != nil {
		return access.Grant{}, err
	}
	c := callerOf(p, ScopeAccount, Binding{ViaPassword, "test"})
	return s.Grant(context.Background(), c, Use{Device: device, Audiences: []access.Audience{aud}})
}
