package storetest

import (
	"errors"
	"testing"
	"time"

	"vigil/internal/auth"
	"vigil/internal/store"
)

// testDirectoryAnswersAuth: what auth reads of the store through its one
// implementation over any store's records (auth.StoreDirectory) —
// standings by auth's rule (a sharee sees from the share's creation until
// its end, a stranger holds nothing), users with their live tokens — and
// unknown users and devices as auth.ErrUnknown.
func testDirectoryAnswersAuth(t *testing.T, b Backend) {
	ctx := t.Context()
	s := b.open(t)
	dir := auth.StoreDirectory{Records: s}
	d := device("cam-one", "porch")
	d.ClaimSHA256 = "c1"
	if err := s.CreateDevice(ctx, d); err != nil {
		t.Fatal(err)
	}
	for _, u := range []store.User{{ID: "u-own", Name: "own"}, {ID: "u-view", Name: "view"}, {ID: "u-else", Name: "else"}} {
		if err := s.UpsertUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	claimed, err := s.ClaimDevice(ctx, "c1", "u-own")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond) // the share is made strictly after the claim
	until := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	if err := s.PutShare(ctx, store.Share{Device: "cam-one", Viewer: "u-view", Until: until}); err != nil {
		t.Fatal(err)
	}
	sh, err := s.Share(ctx, "cam-one", "u-view")
	if err != nil {
		t.Fatal(err)
	}

	own, err := dir.Standing(ctx, "u-own", "cam-one")
	if err != nil || !own.Owner || !own.Claimed || own.Shared || !own.Since.Equal(claimed.EpochStarted) {
		t.Fatalf("owner's standing: %+v %v, want owner since the claim %v", own, err, claimed.EpochStarted)
	}
	view, err := dir.Standing(ctx, "u-view", "cam-one")
	if err != nil || view.Owner || !view.Shared || !view.Since.Equal(sh.CreatedAt) || !view.Since.After(own.Since) ||
		!view.ShareUntil.Equal(until) {
		t.Fatalf("sharee's standing: %+v %v, want shared since the share %v", view, err, sh.CreatedAt)
	}
	if st, err := dir.Standing(ctx, "u-else", "cam-one"); err != nil || st.Owner || st.Shared || !st.Claimed {
		t.Fatalf("a stranger's standing: %+v %v", st, err)
	}
	if _, err := dir.Standing(ctx, "u-own", "cam-none"); !errors.Is(err, auth.ErrUnknown) {
		t.Fatalf("an unknown device's standing: %v, want auth.ErrUnknown", err)
	}

	tok := store.APIToken{ID: "k-view", User: "u-view", Credential: auth.HashCredential("view", "k-view"),
		Scope: auth.ScopeView, Created: time.Now(), Expires: time.Now().Add(time.Hour)}
	if err := s.CreateAPIToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	p, err := dir.Principal(ctx, "view")
	if err != nil || p.ID != "u-view" || len(p.Tokens) != 1 || p.Tokens[0].ID != "k-view" || p.Tokens[0].Credential.User != "view" {
		t.Fatalf("principal by name: %+v %v, want u-view with its token k-view", p, err)
	}
	if p, err := dir.PrincipalOf(ctx, "u-own"); err != nil || p.Name != "own" {
		t.Fatalf("principal by id: %+v %v", p, err)
	}
	if _, err := dir.Principal(ctx, "nobody"); !errors.Is(err, auth.ErrUnknown) {
		t.Fatalf("an unknown user: %v, want auth.ErrUnknown", err)
	}
	if _, err := s.DeviceCredential(ctx, "cam-none"); !errors.Is(err, auth.ErrUnknown) {
		t.Fatalf("an unknown device's credential: %v, want auth.ErrUnknown", err)
	}
}
