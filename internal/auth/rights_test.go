package auth

import (
	"testing"
	"time"
)

// TestRightsOf is the one rule, case by case: who lists, views and manages
// a camera, a disabled one included (listed and marked, manageable by its
// owner, viewable by nobody).
func TestRightsOf(t *testing.T) {
	now := time.Now()
	user := func(scope Scope, admin bool) Caller {
		return Caller{Principal: Principal{ID: "u-1", Admin: admin}, Scope: scope}
	}
	owner, manager, viewer := user(ScopeAccount, false), user(ScopeManage, false), user(ScopeView, false)
	admin := user(ScopeAccount, true)
	token := Caller{Principal: Principal{ID: "u-1"}, Token: &Token{}}
	live := Standing{Claimed: true, Shared: true, ShareUntil: now.Add(time.Minute)}
	ended := Standing{Claimed: true, Shared: true, ShareUntil: now.Add(-time.Minute)}
	owned := Standing{Claimed: true, Owner: true}
	off := func(st Standing) Standing { st.DeviceDisabled = true; return st }
	all := Rights{Listed: true, View: true, Manage: true, Share: true, History: true, Role: RoleOwner}
	tests := []struct {
		name string
		c    Caller
		st   Standing
		want Rights
	}{
		{"owner", owner, owned, all},
		{"owner with a manage token", manager, owned, all},
		{"owner with a view token", viewer, owned, Rights{Listed: true, View: true, Role: RoleOwner}},
		{"owner with a stream token", token, owned, Rights{Listed: true, View: true, Role: RoleOwner}},
		{"owner, camera disabled", owner, off(owned), Rights{Listed: true, Manage: true, Share: true, History: true, Role: RoleOwner}},
		{"live share", owner, live, Rights{Listed: true, View: true, Role: RoleViewer}},
		{"share without end", owner, Standing{Claimed: true, Shared: true}, Rights{Listed: true, View: true, Role: RoleViewer}},
		{"live share, camera disabled", owner, off(live), Rights{Listed: true, Role: RoleViewer}},
		{"ended share", owner, ended, Rights{}},
		{"stranger", owner, Standing{Claimed: true}, Rights{}},
		{"stranger, camera disabled", owner, off(Standing{Claimed: true}), Rights{}},
		{"admin, unclaimed", admin, Standing{}, Rights{Listed: true, View: true, Role: RoleOperator}},
		{"admin, unclaimed and disabled", admin, off(Standing{}), Rights{Listed: true, Role: RoleOperator}},
		{"admin, claimed by another", admin, Standing{Claimed: true}, Rights{}},
		{"user, unclaimed", owner, Standing{}, Rights{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RightsOf(tt.c, tt.st, now); got != tt.want {
				t.Fatalf("RightsOf = %+v, want %+v", got, tt.want)
			}
		})
	}
}
