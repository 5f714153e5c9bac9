package auth

import (
	"context"
	"errors"
	"testing"

	"vigil/internal/access"
)

// ownSessions keeps sessions of one user, ann.
type ownSessions struct {
	memSessions
	ann Principal
}

func (s *ownSessions) PrincipalOf(context.Context, access.UserID) (Principal, error) {
	return s.ann, nil
}

// TestCallerIsResolvedAndCheckedInOneCall: what a request presents is
// judged in one call at the edge — the credential, a session's CSRF token
// on a request that changes state, and the scope the route needs — so the
// edge needs nothing more from auth before its handler runs.
func TestCallerIsResolvedAndCheckedInOneCall(t *testing.T) {
	ctx := context.Background()
	ann := Principal{ID: "u-ann", Name: "ann", Tokens: []APIKey{
		{ID: "k-view", Scope: ScopeView, Credential: HashCredential("ann", "view-token-secret")}}}
	sessions := &ownSessions{ann: ann}
	si := &SignIn{Users: fakeDir{users: map[string]Principal{"ann": ann}}, Sessions: sessions,
		Accounts: NewThrottle(AccountFailures), Addresses: NewThrottle(AddressFailures), Hasher: NewHasher(2, 32)}
	cookie, sess, err := si.StartSession(ctx, ann.ID)
	if err != nil {
		t.Fatal(err)
	}
	basic := Presented{Basic: true, Name: "ann", Password: "view-token-secret", Remote: "192.0.2.7:1", Safe: true}
	cases := []struct {
		name string
		pr   Presented
		need Scope
		want error // nil: ann
		via  Via
	}{
		{name: "nothing", pr: Presented{Safe: true}, need: ScopeView, want: ErrNoCredentials},
		{name: "token for a view", pr: basic, need: ScopeView, via: ViaAPIToken},
		{name: "token too narrow", pr: basic, need: ScopeManage, want: &ScopeError{}},
		{name: "session reads", pr: Presented{Cookie: cookie, Safe: true}, need: ScopeAccount, via: ViaSession},
		{name: "session writes without CSRF", pr: Presented{Cookie: cookie}, need: ScopeAccount, want: ErrCSRF},
		{name: "session writes with CSRF", pr: Presented{Cookie: cookie, CSRF: sess.CSRF}, need: ScopeAccount, via: ViaSession},
		{name: "session ended", pr: Presented{Cookie: "other", Safe: true}, need: ScopeView, want: ErrSessionEnded},
		{name: "stream token, none taken", pr: Presented{Token: "t", Cookie: cookie, Safe: true}, need: ScopeView, want: ErrBadToken},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := si.Caller(ctx, c.pr, c.need)
			var scope *ScopeError
			switch {
			case c.want == nil && (err != nil || got.ID != ann.ID || got.Binding.Via != c.via):
				t.Fatalf("Caller: %+v %v, want ann by %v", got, err, c.via)
			case c.want == nil:
			case errors.As(c.want, &scope):
				if !errors.As(err, &scope) || scope.Need != c.need {
					t.Fatalf("Caller: %v, want a ScopeError for %s", err, c.need)
				}
			case !errors.Is(err, c.want):
				t.Fatalf("Caller: %v, want %v", err, c.want)
			}
			if err != nil && got.ID != "" {
				t.Fatalf("a refused caller came back as %s", got.ID)
			}
		})
	}
}
