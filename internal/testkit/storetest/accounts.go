package storetest

import (
	"testing"
	"time"

	"vigil/internal/auth"
	"vigil/internal/store"
)

// testSetPasswordCutsOffTheOldOne: choosing a password clears the
// generated credential entirely (user name too), deletes every API token,
// ends every session but the one kept, and records a revocation so that a
// running server ends the user's live views.
func testSetPasswordCutsOffTheOldOne(t *testing.T, b Backend) {
	ctx := t.Context()
	s := b.open(t)
	now := time.Now()
	for _, u := range []store.User{
		{ID: "u-olga", Name: "olga", Credential: auth.HashCredential("olga", "generated")},
		{ID: "u-vera", Name: "vera", Credential: auth.HashCredential("vera", "generated")},
	} {
		if err := s.UpsertUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"a", "b"} {
			sess := store.Session{IDSHA256: string(u.ID) + id, User: u.ID, CSRF: "c", Created: now, Expires: now.Add(time.Hour)}
			if err := s.CreateSession(ctx, sess); err != nil {
				t.Fatal(err)
			}
			tok := store.APIToken{ID: string(u.ID) + id, User: u.ID, Credential: auth.HashCredential(u.Name, id),
				Scope: auth.ScopeView, Created: now, Expires: now.Add(time.Hour)}
			if err := s.CreateAPIToken(ctx, tok); err != nil {
				t.Fatal(err)
			}
		}
	}
	before, _ := s.LastRevocation(ctx)
	if err := s.SetPassword(ctx, "u-olga", "phc", "u-olgaa"); err != nil {
		t.Fatal(err)
	}
	u, err := s.User(ctx, "u-olga")
	if err != nil || u.Credential != (auth.Credential{}) {
		t.Fatalf("credential after a password change: %+v, %v; want it cleared", u.Credential, err)
	}
	if phc, _ := s.PasswordHash(ctx, "u-olga"); phc != "phc" {
		t.Fatalf("password hash %q", phc)
	}
	if toks, _ := s.APITokens(ctx, "u-olga", now); len(toks) != 0 {
		t.Fatalf("API tokens after a password change: %d, want 0", len(toks))
	}
	if _, err := s.Session(ctx, "u-olgaa", now); err != nil {
		t.Fatalf("the kept session: %v", err)
	}
	if _, err := s.Session(ctx, "u-olgab", now); err == nil {
		t.Fatal("another session survived the password change")
	}
	// Another user is untouched.
	if toks, _ := s.APITokens(ctx, "u-vera", now); len(toks) != 2 {
		t.Fatalf("vera's API tokens: %d, want 2", len(toks))
	}
	for _, id := range []string{"u-veraa", "u-verab"} {
		if _, err := s.Session(ctx, id, now); err != nil {
			t.Fatalf("vera's session %s: %v", id, err)
		}
	}
	if after, _ := s.LastRevocation(ctx); after <= before {
		t.Fatal("no revocation recorded")
	}
	// "" keeps no session.
	if err := s.SetPassword(ctx, "u-olga", "phc2", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Session(ctx, "u-olgaa", now); err == nil {
		t.Fatal("a session survived a change that kept none")
	}
}
