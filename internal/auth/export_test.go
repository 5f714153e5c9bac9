package auth

import (
	"errors"
	"testing"
	"time"

	"vigil/internal/access"
)

// TestExportGrant: an export's grant goes to its household alone, signed
// in as a person (not a stream token, not an account link, not a disabled
// account), before the deadline; it reads the export's device and only
// what was captured in [epoch, released). A claim or release of the camera
// does not end it; the account's revocation and the export's end do.
func TestExportGrant(t *testing.T) {
	ctx := t.Context()
	s := NewService(fakeDir{}, access.NewIssuer(), nil, time.Hour)
	now := time.Now()
	e := Export{ID: 7, Device: "cam-a", Household: "u-olga", Epoch: now.Add(-time.Hour), Released: now.Add(-time.Minute),
		Deadline: now.Add(24 * time.Hour)}
	person := func(id access.UserID) Caller {
		return Caller{Principal: Principal{ID: id, Name: string(id)}, Scope: ScopeAccount, Binding: Binding{Via: ViaSession, ID: "s"}}
	}
	olga := person("u-olga")
	g, err := s.ExportGrant(ctx, olga, e)
	if err != nil {
		t.Fatal(err)
	}
	if g.Device() != "cam-a" || g.User() != "u-olga" || !g.Epoch().Equal(e.Epoch) || !g.Until().Equal(e.Released) {
		t.Fatalf("grant %s, want cam-a for u-olga over [%v, %v)", g, e.Epoch, e.Released)
	}
	for _, c := range []struct {
		at   time.Time
		want error
	}{
		{e.Epoch.Add(-time.Second), access.ErrBeforeEpoch},
		{e.Epoch, nil},
		{e.Released.Add(-time.Nanosecond), nil},
		{e.Released, access.ErrAfterEnd},
		{now, access.ErrAfterEnd}, // the next owner's
	} {
		if err := g.Check("cam-a", c.at, now); !errors.Is(err, c.want) {
			t.Errorf("captured %v: %v, want %v", c.at, err, c.want)
		}
	}
	if err := g.Check("cam-b", e.Epoch, now); err == nil {
		t.Error("the export's grant reads another camera")
	}

	link, token, disabled := olga, olga, olga
	link.Binding.Via = ViaLink
	token.Token = &Token{}
	disabled.Disabled = true
	late := e
	late.Deadline = now.Add(-time.Second)
	for name, c := range map[string]struct {
		c Caller
		e Export
	}{
		"another household": {person("u-sam"), e}, "an account link": {link, e}, "a stream token": {token, e},
		"a disabled account": {disabled, e}, "past the deadline": {olga, late},
	} {
		if _, err := s.ExportGrant(ctx, c.c, c.e); err == nil {
			t.Errorf("%s got an export's grant", name)
		}
	}

	s.RevokeDevice("cam-a") // a claim or release of the camera
	if err := g.Live(now); err != nil {
		t.Fatalf("the camera's claim ended the export's grant: %v", err)
	}
	s.EndExport(ctx, g, 7)
	if err := g.Live(now); !errors.Is(err, access.ErrGrantRevoked) {
		t.Fatalf("after the export's end: %v, want revoked", err)
	}
	g, _ = s.ExportGrant(ctx, olga, e)
	s.RevokeUser("u-olga")
	if err := g.Live(now); !errors.Is(err, access.ErrGrantRevoked) {
		t.Fatalf("after the account's revocation: %v, want revoked", err)
	}
}
