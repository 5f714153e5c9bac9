package household

import (
	"context"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/auth"
	"vigil/internal/store"
)

// fakeStore holds devices and shares; the views' other reads are unused.
type fakeStore struct {
	Store
	devices []store.Device
	shares  []store.Share
}

func (f fakeStore) Device(_ context.Context, id access.DeviceID) (store.Device, error) {
	for _, d := range f.devices {
		if d.ID == id {
			return d, nil
		}
	}
	return store.Device{}, store.ErrNotFound
}

func (f fakeStore) DevicesOwnedBy(_ context.Context, owner access.UserID) ([]store.Device, error) {
	var out []store.Device
	for _, d := range f.devices {
		if d.Owner == owner {
			out = append(out, d)
		}
	}
	return out, nil
}

func (f fakeStore) SharesWith(_ context.Context, viewer access.UserID) ([]store.Share, error) {
	var out []store.Share
	for _, s := range f.shares {
		if s.Viewer == viewer {
			out = append(out, s)
		}
	}
	return out, nil
}

// TestCamerasFollowTheRule: a listing shows what auth.RightsOf lists —
// owned, live shares, unclaimed for admins only — with disabled cameras
// marked, and never an ended share.
func TestCamerasFollowTheRule(t *testing.T) {
	now := time.Now()
	v := Views{Store: fakeStore{
		devices: []store.Device{
			{ID: "cam-own", Owner: "u-1"}, {ID: "cam-off", Owner: "u-1", Disabled: true},
			{ID: "cam-shared", Owner: "u-2"}, {ID: "cam-ended", Owner: "u-2"}, {ID: "cam-sharedoff", Owner: "u-2", Disabled: true},
			{ID: "cam-new"},
		},
		shares: []store.Share{
			{Device: "cam-shared", Viewer: "u-1", Until: now.Add(time.Hour)},
			{Device: "cam-ended", Viewer: "u-1", Until: now.Add(-time.Hour)},
			{Device: "cam-sharedoff", Viewer: "u-1"},
		},
	}}
	user := auth.Caller{Principal: auth.Principal{ID: "u-1"}}
	admin := auth.Caller{Principal: auth.Principal{ID: "u-1", Admin: true}}
	for _, tt := range []struct {
		name string
		c    auth.Caller
		want map[access.DeviceID]string // id: role, with "-" for disabled
	}{
		{"user", user, map[access.DeviceID]string{"cam-own": "owner", "cam-off": "owner-", "cam-shared": "viewer", "cam-sharedoff": "viewer-"}},
		{"admin", admin, map[access.DeviceID]string{"cam-own": "owner", "cam-off": "owner-", "cam-shared": "viewer",
			"cam-sharedoff": "viewer-", "cam-new": "operator"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cams, err := v.Cameras(context.Background(), tt.c, now)
			if err != nil {
				t.Fatal(err)
			}
			got := map[access.DeviceID]string{}
			for _, c := range cams {
				got[c.ID] = c.Role
				if c.Disabled {
					got[c.ID] += "-"
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("listed %v, want %v", got, tt.want)
			}
			for id, role := range tt.want {
				if got[id] != role {
					t.Errorf("%s: %q, want %q (all: %v)", id, got[id], role, got)
				}
			}
		})
	}
}
