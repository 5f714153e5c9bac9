package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"vigil/internal/access"
)

// Bindings is what the credentials stream tokens are bound to are checked
// against. Lookups of missing entries return errors.
type Bindings interface {
	// Session returns the live session of a cookie's SHA-256.
	Session(ctx context.Context, idSHA256 string, now time.Time) (Session, error)
	// PasswordHash returns the user's chosen password hash ("" for none).
	PasswordHash(ctx context.Context, user access.UserID) (string, error)
	// LinkHolder returns the user of an account link and whether it is
	// live (complete and not revoked).
	LinkHolder(ctx context.Context, id string) (access.UserID, bool, error)
}

// bound checks that b, what a stream token of p was minted in, still
// stands: p's sign-in session, one of p's live API tokens, p's password as
// it was, or p's live account link.
func (s *Service) bound(ctx context.Context, p Principal, b Binding) error {
	switch b.Via {
	case ViaAPIToken:
		if !slices.ContainsFunc(p.Tokens, func(k APIKey) bool { return k.ID == b.ID }) {
			return errors.New("API token deleted or expired")
		}
		return nil
	case ViaSession:
		sess, err := s.dir.Session(ctx, b.ID, s.now())
		if err == nil && sess.User != p.ID {
			err = errors.New("session of another user")
		}
		return err
	case ViaPassword:
		if p.Credential.Usable() && b.ID == PasswordFingerprint(p.Credential.PassSHA256) {
			return nil
		}
		phc, err := s.dir.PasswordHash(ctx, p.ID)
		if err != nil || (phc != "" && b.ID == PasswordFingerprint(phc)) {
			return err
		}
		return errors.New("password changed")
	case ViaLink:
		user, live, err := s.dir.LinkHolder(ctx, b.ID)
		if err == nil && (!live || user != p.ID) {
			err = errors.New("account link ended")
		}
		return err
	}
	return fmt.Errorf("token bound to %q, which is nothing Vigil knows", b)
}
