package auth

import (
	"errors"
	"testing"
	"time"

	"vigil/internal/access"
)

// TestRecorderGrantIsTheCurrentEpochs: the recorder's grant, like a
// viewer's, is minted from the store: it allows only what the device
// captured since its current epoch began, ends when the device's grants
// are revoked (a claim, release or reset), and is refused for a disabled
// or unknown device.
func TestRecorderGrantIsTheCurrentEpochs(t *testing.T) {
	since := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	dir := fakeDir{standing: map[access.UserID]Standing{RecorderUser: {Claimed: true, Since: since}}}
	s := NewService(dir, access.NewIssuer(), nil, time.Hour)
	g, err := s.RecorderGrant(t.Context(), "cam-x")
	if err != nil {
		t.Fatal(err)
	}
	if g.User() != RecorderUser || g.Device() != "cam-x" || !g.Epoch().Equal(since) {
		t.Fatalf("recorder grant %v, want the recorder's for cam-x from %v", g, since)
	}
	if err := g.Check("cam-x", since.Add(-time.Second), time.Now()); !errors.Is(err, access.ErrBeforeEpoch) {
		t.Fatalf("a frame of the previous epoch: %v, want access.ErrBeforeEpoch", err)
	}
	s.RevokeDevice("cam-x")
	if err := g.Live(time.Now()); !errors.Is(err, access.ErrGrantRevoked) {
		t.Fatalf("after the device's grants were revoked: %v, want access.ErrGrantRevoked", err)
	}
	if g, err := s.RecorderGrant(t.Context(), "cam-x"); err != nil || g.Live(time.Now()) != nil {
		t.Fatalf("the grant after the revocation: %v, %v", err, g.Live(time.Now()))
	}

	dir.standing[RecorderUser] = Standing{Claimed: true, DeviceDisabled: true}
	if _, err := s.RecorderGrant(t.Context(), "cam-x"); !errors.Is(err, ErrDisabled) {
		t.Fatalf("a disabled device: %v, want ErrDisabled", err)
	}
}
