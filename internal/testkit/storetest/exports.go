package storetest

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/record"
	"vigil/internal/store"
)

// testExports: a release that keeps its footage moves the ended epoch's
// secret to an export of the releasing owner, in the release's
// transaction, and the device gets a new epoch and secret as any release;
// an unclaimed device keeps nothing (and is not reset); a destroyed
// export's secret is gone; exports go with their device or household.
func testExports(t *testing.T, b Backend) {
	ctx := t.Context()
	s := b.open(t)
	for i, id := range []string{"cam-one", "cam-two"} {
		d := device(id, []string{"porch", "yard"}[i])
		d.ClaimSHA256 = "c-" + id
		if err := s.CreateDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []access.UserID{"u-own", "u-next"} {
		if err := s.UpsertUser(ctx, store.User{ID: u, Name: string(u)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.ResetDeviceKeeping(ctx, "cam-one", "c-again", time.Now().Add(time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("keeping the footage of an unclaimed device: %v, want not found", err)
	}
	if d, _ := s.Device(ctx, "cam-one"); d.ClaimSHA256 != "c-cam-one" {
		t.Fatalf("a refused keeping release reset the device: claim %q", d.ClaimSHA256)
	}
	claimed, err := s.ClaimDevice(ctx, "c-cam-one", "u-own")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClaimDevice(ctx, "c-cam-two", "u-own"); err != nil {
		t.Fatal(err)
	}
	_, old, err := s.Epoch(ctx, "cam-one")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(48 * time.Hour).Truncate(time.Millisecond).UTC()
	id, err := s.ResetDeviceKeeping(ctx, "cam-one", "c-next", deadline)
	if err != nil {
		t.Fatal(err)
	}
	newEpoch, newSecret, err := s.Epoch(ctx, "cam-one")
	if err != nil {
		t.Fatal(err)
	}
	want := record.Export{ID: id, Device: "cam-one", Epoch: claimed.EpochStarted, Released: newEpoch, Household: "u-own",
		Name: "porch", Deadline: deadline}
	if bytes.Equal(newSecret, old) {
		t.Fatal("the release kept the device's epoch secret")
	}
	got, secret, err := s.Export(ctx, id)
	if err != nil || got != want || !bytes.Equal(secret, old) {
		t.Fatalf("Export = %+v, secret kept %v, %v", got, bytes.Equal(secret, old), err)
	}
	if d, _ := s.Device(ctx, "cam-one"); d.Owner != "" || d.ClaimSHA256 != "c-next" {
		t.Fatalf("after the release the device is %+v", d)
	}
	if _, err := s.ClaimDevice(ctx, "c-next", "u-next"); err != nil {
		t.Fatal(err)
	}
	twoID, err := s.ResetDeviceKeeping(ctx, "cam-two", "c-two", deadline)
	if err != nil {
		t.Fatal(err)
	}
	two, _, err := s.Export(ctx, twoID)
	if err != nil {
		t.Fatal(err)
	}
	if l, err := s.ExportsOf(ctx, "u-own"); err != nil || !slices.Equal(l, []record.Export{want, two}) {
		t.Fatalf("ExportsOf(u-own) = %+v, %v", l, err)
	}
	if l, err := s.ExportsOf(ctx, "u-next"); err != nil || len(l) != 0 {
		t.Fatalf("the next owner's exports = %+v, %v", l, err)
	}
	if l, err := s.DeviceExports(ctx, "cam-one"); err != nil || !slices.Equal(l, []record.Export{want}) {
		t.Fatalf("DeviceExports(cam-one) = %+v, %v", l, err)
	}
	if err := s.DestroyExport(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, secret, err := s.Export(ctx, id); !errors.Is(err, store.ErrNotFound) || secret != nil {
		t.Fatalf("a destroyed export: secret %x, %v", secret, err)
	}
	if err := s.DeleteDevice(ctx, "cam-two"); err != nil {
		t.Fatal(err)
	}
	if l, _ := s.ExportsOf(ctx, "u-own"); len(l) != 0 {
		t.Fatalf("exports after their destruction and their device's deletion = %+v", l)
	}
}
