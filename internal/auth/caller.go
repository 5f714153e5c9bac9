package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Via is how a caller authenticated.
type Via uint8

// The ways a caller authenticates. A stream token is not one of them: a
// caller who presents one carries the Binding the token was minted in,
// and Caller.Token says it came by token.
const (
	// ViaSession is a sign-in session (the web page's cookie).
	ViaSession Via = iota + 1
	// ViaAPIToken is one of the user's API tokens (HTTP Basic, RTSP Digest).
	ViaAPIToken
	// ViaPassword is the user's password, generated or chosen.
	ViaPassword
	// ViaLink is an account link (Google, Alexa), checked by oauth.
	ViaLink
)

// Binding names the credential a caller authenticated with, so that what
// the caller mints (stream tokens) dies with it.
type Binding struct {
	Via Via
	// ID names the credential: the SHA-256 of a session cookie, an API
	// token's id, PasswordFingerprint of the stored password hash, an
	// account link's id.
	ID string
}

// prefix is how b's kind is written in a stream token; the typed value is
// all that leaves this file.
func (v Via) prefix() string {
	switch v {
	case ViaSession:
		return "s:"
	case ViaAPIToken:
		return "k:"
	case ViaPassword:
		return "p:"
	case ViaLink:
		return "l:"
	}
	return ""
}

func (b Binding) String() string { return b.Via.prefix() + b.ID }

// parseBinding reads what Binding.String wrote; "" is the zero Binding,
// which is bound to nothing and so never stands.
func parseBinding(s string) (Binding, bool) {
	if s == "" {
		return Binding{}, true
	}
	for via := ViaSession; via <= ViaLink; via++ {
		if id, ok := strings.CutPrefix(s, via.prefix()); ok {
			return Binding{Via: via, ID: id}, true
		}
	}
	return Binding{}, false
}

// Caller is who a request comes from, resolved once at its edge (the HTTP
// middleware, the RTSP handshake) and carried with it from there: the
// active user, what the credential may do and which credential it was.
// Only auth makes Callers.
type Caller struct {
	Principal
	// Scope is what the credential allows: ScopeAccount for a session or
	// the password, an API token's own scope, ScopeView for an account
	// link, none for a stream token (which opens only what Grant checks
	// against the token).
	Scope Scope
	// Binding is the credential; for a stream token, the one the token
	// was minted in.
	Binding Binding
	// Token is the stream token the caller presented; nil otherwise.
	Token *Token
	// raw is the token as presented, which renews it while it is used.
	raw string
}

// Allows reports whether the caller may do what need requires.
func (c Caller) Allows(need Scope) bool { return c.Token == nil && c.Scope.Allows(need) }

// callerOf is the caller who proved to be p with a credential of scope
// named by b.
func callerOf(p Principal, scope Scope, b Binding) Caller {
	return Caller{Principal: p, Scope: scope, Binding: b}
}

// LinkCaller is the user of an account link whose access token oauth has
// checked: a viewer (ScopeView) bound to the link, so that ending the link
// ends what it opened.
func (s *Service) LinkCaller(ctx context.Context, name, link string) (Caller, error) {
	p, err := s.active(ctx, name)
	if err != nil {
		return Caller{}, err
	}
	return callerOf(p, ScopeView, Binding{Via: ViaLink, ID: link}), nil
}

// DigestCaller returns the active user name whose credential passes check
// (a challenge-response scheme: RTSP Digest): the generated password
// (ScopeAccount) unless a chosen one replaced it, else an API token (its
// scope). The user is loaded once, and the Caller is the one the request's
// grant is for. With no credential passing, it returns check's last error.
func (s *Service) DigestCaller(ctx context.Context, name string, check func(Credential) error) (Caller, error) {
	c, err := s.digestCaller(ctx, name, check)
	return c, s.Failures.count(err)
}

func (s *Service) digestCaller(ctx context.Context, name string, check func(Credential) error) (Caller, error) {
	p, err := s.active(ctx, name)
	if err != nil {
		return Caller{}, err
	}
	err = errors.New("no credential")
	if p.Credential.Usable() {
		if err = check(p.Credential); err == nil {
			return callerOf(p, ScopeAccount, Binding{ViaPassword, PasswordFingerprint(p.Credential.PassSHA256)}), nil
		}
	}
	for _, k := range p.Tokens {
		if err = check(k.Credential); err == nil {
			return callerOf(p, k.Scope, Binding{ViaAPIToken, k.ID}), nil
		}
	}
	return Caller{}, fmt.Errorf("%w: %w", ErrWrongPassword, err)
}
