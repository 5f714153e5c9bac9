package storetest

import (
	"cmp"
	"context"
	"slices"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/auth"
	"vigil/internal/store"
	"vigil/internal/store/backend"
)

// rev is what a revocation names.
type rev struct {
	user   access.UserID
	device access.DeviceID
}

// testRevocations: every change that ends a right to view appends to the
// revocation log, with its own transaction, what it ended — a device for
// everyone, a user everywhere, or one share — and changes that end nothing
// append nothing. Ids only grow, pruning included, since readers follow
// the log by id.
func testRevocations(t *testing.T, b Backend) {
	ctx := t.Context()
	s := b.open(t)
	d := device("cam-rev", "rev")
	d.ClaimSHA256 = "c1"
	if err := s.CreateDevice(ctx, d); err != nil {
		t.Fatal(err)
	}
	ann := store.User{ID: "u-ann", Name: "ann", Credential: auth.HashCredential("ann", "one")}
	for _, u := range []store.User{ann, {ID: "u-bob", Name: "bob"}} {
		if err := s.UpsertUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	last, err := s.LastRevocation(ctx)
	if err != nil {
		t.Fatal(err)
	}
	steps := revocationSteps(ctx, s, ann)
	for _, st := range steps {
		if err := st.change(); err != nil {
			t.Fatalf("%s: %v", st.what, err)
		}
		rs, err := s.Revocations(ctx, last, 100)
		if err != nil {
			t.Fatal(err)
		}
		var got []rev
		for _, r := range rs {
			if r.ID <= last || r.At.Before(time.Now().Add(-time.Minute)) || r.At.After(time.Now().Add(time.Minute)) {
				t.Fatalf("%s: revocation %+v after %d", st.what, r, last)
			}
			last = r.ID
			got = append(got, rev{r.User, r.Device})
		}
		// One statement's rows (a delete and its cascade) come in either order.
		order := func(a, b rev) int { return cmp.Or(cmp.Compare(a.user, b.user), cmp.Compare(a.device, b.device)) }
		slices.SortFunc(got, order)
		slices.SortFunc(st.want, order)
		if !slices.Equal(got, st.want) {
			t.Errorf("%s: revocations %v, want %v", st.what, got, st.want)
		}
	}
	pruneKeepsIDsGrowing(t, s, last)
}

// revocationStep is a change and the revocations it must append.
type revocationStep struct {
	what   string
	change func() error
	want   []rev
}

// revocationSteps are changes to cam-rev, u-ann and u-bob in s, in order.
func revocationSteps(ctx context.Context, s backend.Store, ann store.User) []revocationStep {
	token := func(id string) error {
		return s.CreateAPIToken(ctx, store.APIToken{ID: id, User: "u-ann", Credential: auth.HashCredential("ann", id),
			Scope: auth.ScopeView, Created: time.Now(), Expires: time.Now().Add(time.Hour)})
	}
	share := func(until time.Time) func() error {
		return func() error { return s.PutShare(ctx, store.Share{Device: "cam-rev", Viewer: "u-bob", Until: until}) }
	}
	device, bobHere, ann1, bob := rev{device: "cam-rev"}, rev{"u-bob", "cam-rev"}, rev{user: "u-ann"}, rev{user: "u-bob"}
	return []revocationStep{
		{"claim", func() error { _, err := s.ClaimDevice(ctx, "c1", "u-ann"); return err }, []rev{device}},
		{"share", share(time.Time{}), nil},
		{"shorten the share", share(time.Now().Add(time.Hour)), []rev{bobHere}},
		{"lengthen the share", share(time.Now().Add(2 * time.Hour)), nil},
		{"unshare", func() error { return s.DeleteShare(ctx, "cam-rev", "u-bob") }, []rev{bobHere}},
		{"rotate the device's credential", func() error {
			return s.SetDeviceCredential(ctx, "cam-rev", auth.HashCredential("cam-rev", "new"))
		}, nil},
		{"disable bob", func() error { return s.SetUserDisabled(ctx, "u-bob", true) }, []rev{bob}},
		{"enable bob", func() error { return s.SetUserDisabled(ctx, "u-bob", false) }, nil},
		{"rename ann", func() error { a := ann; a.Name = "anna"; return s.UpsertUser(ctx, a) }, nil},
		{"new generated password", func() error {
			return s.ResetCredential(ctx, "u-ann", auth.HashCredential("anna", "two"))
		}, []rev{ann1}},
		{"make a token", func() error { return token("t1") }, nil},
		{"choose a password", func() error { return s.SetPassword(ctx, "u-ann", "phc", "") }, []rev{ann1, ann1}},
		{"make another token", func() error { return token("t2") }, nil},
		{"delete it", func() error { return s.DeleteAPIToken(ctx, "u-ann", "t2") }, []rev{ann1}},
		{"share again", share(time.Time{}), nil},
		{"reset the device", func() error { return s.ResetDevice(ctx, "cam-rev", "c2") }, []rev{device, bobHere}},
		{"share the unowned device", share(time.Time{}), nil},
		{"delete the device", func() error { return s.DeleteDevice(ctx, "cam-rev") }, []rev{device, bobHere}},
	}
}

// pruneKeepsIDsGrowing: pruning everything does not let an id come back.
func pruneKeepsIDsGrowing(t *testing.T, s interface {
	backend.Revocations
	SetUserDisabled(ctx context.Context, user access.UserID, disabled bool) error
}, last int64) {
	ctx := t.Context()
	if rs, err := s.Revocations(ctx, 0, 2); err != nil || len(rs) != 2 || rs[0].ID >= rs[1].ID {
		t.Fatalf("Revocations(0, 2) = %+v, %v; want the first two, in order", rs, err)
	}
	if err := s.PruneRevocations(ctx, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if rs, err := s.Revocations(ctx, 0, 100); err != nil || len(rs) != 0 {
		t.Fatalf("after pruning all: %+v, %v", rs, err)
	}
	if err := s.SetUserDisabled(ctx, "u-bob", true); err != nil {
		t.Fatal(err)
	}
	if rs, err := s.Revocations(ctx, 0, 100); err != nil || len(rs) != 1 || rs[0].ID <= last {
		t.Fatalf("after pruning, a revocation %+v (%v); want one with an id above %d", rs, err, last)
	}
}
