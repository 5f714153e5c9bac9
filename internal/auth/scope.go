package auth

import "fmt"

// Scope says what a credential may do. Each scope includes the ones before
// it: ScopeView < ScopeManage < ScopeAccount.
type Scope string

// Scopes. A sign-in session or the account's password has ScopeAccount; an
// API token has the scope it was made with.
const (
	// ScopeView reads media (every output, RTSP, stream tokens) and lists
	// the cameras the user may see.
	ScopeView Scope = "view"
	// ScopeManage also claims, releases and shares cameras and reads their
	// access history.
	ScopeManage Scope = "manage"
	// ScopeAccount also changes the password, API tokens and invitations:
	// a leaked API token cannot make itself permanent.
	ScopeAccount Scope = "account"
)

var scopeRank = map[Scope]int{ScopeView: 1, ScopeManage: 2, ScopeAccount: 3}

// ParseScope validates an API token's scope; "" means ScopeView.
func ParseScope(s string) (Scope, error) {
	switch Scope(s) {
	case "":
		return ScopeView, nil
	case ScopeView, ScopeManage:
		return Scope(s), nil
	}
	return "", fmt.Errorf("scope %q: an API token's scope is view or manage", s)
}

// Allows reports whether a credential of scope s may do what need requires.
func (s Scope) Allows(need Scope) bool { return scopeRank[s] >= scopeRank[need] && scopeRank[need] > 0 }

// APIKey is one of a user's live API tokens, as auth checks it.
type APIKey struct {
	ID    string
	Scope Scope
	Credential
}

// Match reports whether secret is the user's generated password (scope
// ScopeAccount, key "") or one of the user's API tokens (its scope and id).
// Every candidate is checked, so timing does not tell which one matched.
func (p Principal) Match(secret string) (scope Scope, key string, ok bool) {
	if p.Credential.CheckPassword(secret) {
		scope, ok = ScopeAccount, true
	}
	for _, t := range p.Tokens {
		if t.CheckPassword(secret) && !ok {
			scope, key, ok = t.Scope, t.ID, true
		}
	}
	return scope, key, ok
}
