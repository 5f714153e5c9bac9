package sqlite

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"vigil/internal/store"
)

func TestClaimShareReset(t *testing.T) {
	ctx := t.Context()
	s := open(t, filepath.Join(t.TempDir(), "v.db"))
	d := device("cam-one", "porch")
	d.ClaimSHA256 = "c1"
	if err := s.CreateDevice(ctx, d); err != nil {
		t.Fatal(err)
	}
	for _, u := range []store.User{{ID: "u-own", Name: "own"}, {ID: "u-view", Name: "view"}} {
		if err := s.UpsertUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.ClaimDevice(ctx, "wrong", "u-own"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("wrong code: %v", err)
	}
	got, err := s.ClaimDevice(ctx, "c1", "u-own")
	if err != nil || got.Owner != "u-own" || got.ClaimSHA256 != "" {
		t.Fatalf("claim: %v %+v", err, got)
	}
	if _, err := s.ClaimDevice(ctx, "c1", "u-view"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a spent code claimed again: %v", err)
	}
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)
	if err := s.PutShare(ctx, store.Share{Device: "cam-one", Viewer: "u-view", Until: until}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutShare(ctx, store.Share{Device: "cam-one", Viewer: "u-nobody"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("share with an unknown user: %v", err)
	}
	sh, err := s.Share(ctx, "cam-one", "u-view")
	if err != nil || !sh.Until.Equal(until) || !sh.Live(time.Now()) || sh.Live(until.Add(time.Second)) {
		t.Fatalf("share: %v %+v", err, sh)
	}
	owned, _ := s.DevicesOwnedBy(ctx, "u-own")
	with, _ := s.SharesWith(ctx, "u-view")
	if len(owned) != 1 || len(with) != 1 {
		t.Fatalf("owned %d, shared %d", len(owned), len(with))
	}
	// Reset drops the owner and every share at once.
	if err := s.ResetDevice(ctx, "cam-one", "c2"); err != nil {
		t.Fatal(err)
	}
	d2, _ := s.Device(ctx, "cam-one")
	shares, _ := s.SharesOfDevice(ctx, "cam-one")
	if d2.Owner != "" || d2.ClaimSHA256 != "c2" || len(shares) != 0 {
		t.Fatalf("after reset: owner %q claim %q shares %d", d2.Owner, d2.ClaimSHA256, len(shares))
	}
	if err := s.DeleteShare(ctx, "cam-one", "u-view"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unshare twice: %v", err)
	}
}
