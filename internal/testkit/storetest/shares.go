package storetest

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/audit"
	"vigil/internal/store"
)

func testClaimShareReset(t *testing.T, b Backend) {
	ctx := t.Context()
	s := b.open(t)
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

// testOwnershipEpochs: a device's epoch starts when it is created, and a
// claim and a reset each start a new one, with a new secret that replaces
// the old; editing a share's end keeps the share's creation (its epoch),
// revoking and sharing again makes a new one; the history asked for since
// an epoch has no older rows.
func testOwnershipEpochs(t *testing.T, b Backend) {
	ctx := t.Context()
	s := b.open(t)
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
	epoch := func() (time.Time, []byte) {
		t.Helper()
		dev, err := s.Device(ctx, "cam-one")
		if err != nil {
			t.Fatal(err)
		}
		secret, err := s.EpochSecret(ctx, "cam-one")
		if err != nil || len(secret) != 32 {
			t.Fatalf("epoch secret: %d bytes, %v", len(secret), err)
		}
		return dev.EpochStarted, secret
	}
	created, secret0 := epoch()
	if created.IsZero() {
		t.Fatal("a new device has no epoch")
	}
	if _, err := s.StartAccess(ctx, audit.Viewing{Viewer: "u-admin", Device: "cam-one", Output: "rtsp",
		Started: time.Now()}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Millisecond)
	if _, err := s.ClaimDevice(ctx, "c1", "u-own"); err != nil {
		t.Fatal(err)
	}
	claimed, secret1 := epoch()
	if !claimed.After(created) || bytes.Equal(secret1, secret0) {
		t.Fatalf("claim: epoch %v (was %v), secret replaced %v", claimed, created, !bytes.Equal(secret1, secret0))
	}
	if rows, _ := s.AccessOf(ctx, "cam-one", claimed, 10); len(rows) != 0 {
		t.Fatalf("history since the claim shows %d rows of the operator's epoch", len(rows))
	}
	if rows, _ := s.AccessOf(ctx, "cam-one", time.Time{}, 10); len(rows) != 1 {
		t.Fatalf("the operator's full history has %d rows, want 1", len(rows))
	}

	if err := s.PutShare(ctx, store.Share{Device: "cam-one", Viewer: "u-view"}); err != nil {
		t.Fatal(err)
	}
	sh1, _ := s.Share(ctx, "cam-one", "u-view")
	if err := s.PutShare(ctx, store.Share{Device: "cam-one", Viewer: "u-view", Until: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if sh, _ := s.Share(ctx, "cam-one", "u-view"); !sh.CreatedAt.Equal(sh1.CreatedAt) {
		t.Fatal("editing a share's end started a new epoch")
	}
	if err := s.DeleteShare(ctx, "cam-one", "u-view"); err != nil {
		t.Fatal(err)
	}
	if err := s.PutShare(ctx, store.Share{Device: "cam-one", Viewer: "u-view"}); err != nil {
		t.Fatal(err)
	}
	sh2, _ := s.Share(ctx, "cam-one", "u-view")
	if !sh2.CreatedAt.After(sh1.CreatedAt) {
		t.Fatal("a share revoked and granted again kept its old epoch")
	}
	// A share that ended and is granted again starts anew too.
	if err := s.PutShare(ctx, store.Share{Device: "cam-one", Viewer: "u-view", Until: time.Now().Add(-time.Second)}); err != nil {
		t.Fatal(err)
	}
	if sh, _ := s.Share(ctx, "cam-one", "u-view"); !sh.CreatedAt.Equal(sh2.CreatedAt) {
		t.Fatal("ending a live share changed its epoch")
	}
	if err := s.PutShare(ctx, store.Share{Device: "cam-one", Viewer: "u-view"}); err != nil {
		t.Fatal(err)
	}
	if sh, _ := s.Share(ctx, "cam-one", "u-view"); !sh.CreatedAt.After(sh2.CreatedAt) {
		t.Fatal("a share that had ended, granted again, kept its old epoch")
	}

	time.Sleep(time.Millisecond)
	if err := s.ResetDevice(ctx, "cam-one", "c2"); err != nil {
		t.Fatal(err)
	}
	reset, secret2 := epoch()
	if !reset.After(claimed) || bytes.Equal(secret2, secret1) {
		t.Fatalf("reset: epoch %v (was %v), secret replaced %v", reset, claimed, !bytes.Equal(secret2, secret1))
	}
	if _, err := s.EpochSecret(ctx, access.DeviceID("cam-none")); err == nil {
		t.Fatal("an unknown device has an epoch secret")
	}
}
