package postgres

import (
	"context"
	"errors"
	"fmt"
	"github.com/jackc/pgx/v5"
	"time"

	"vigil/internal/access"
	"vigil/internal/store"
	"vigil/internal/store/sqlrow"
)

// CreateInvitation stores an invitation code's hash.
func (s *Store) CreateInvitation(ctx context.Context, codeSHA256 string, by access.UserID, expires time.Time) error {
	_, err := s.q(ctx).Exec(ctx, `INSERT INTO invitations (code_sha256, created_by, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
		codeSHA256, string(by), sqlrow.Nanos(time.Now()), sqlrow.Nanos(expires))
	if err != nil {
		return fmt.Errorf("create invitation: %w", err)
	}
	return nil
}

// Invitation returns store.ErrNotFound unless the invitation is unspent
// and unexpired at now. It spends nothing: SignUp does, after the password
// is hashed, so that a stranger without an invitation costs no hashing.
func (s *Store) Invitation(ctx context.Context, codeSHA256 string, now time.Time) error {
	var one int
	err := s.q(ctx).QueryRow(ctx, `SELECT 1 FROM invitations WHERE code_sha256 = $1 AND expires_at > $2`,
		codeSHA256, sqlrow.Nanos(now)).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("invitation: %w", store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("invitation: %w", err)
	}
	return nil
}

// SignUp creates a user with an argon2id password; with a non-empty
// invitation hash, it spends the (unexpired) invitation in the same
// transaction, so a crash never leaves a user without its invitation spent
// or an invitation spent without its user.
func (s *Store) SignUp(ctx context.Context, u store.User, phc, invitationSHA256 string, now time.Time) error {
	return s.inTx(ctx, func(q querier) error {
		if invitationSHA256 != "" {
			tag, err := q.Exec(ctx, `DELETE FROM invitations WHERE code_sha256 = $1 AND expires_at > $2`, invitationSHA256, sqlrow.Nanos(now))
			if err != nil {
				return fmt.Errorf("sign up: %w", err)
			}
			if tag.RowsAffected() == 0 {
				return fmt.Errorf("sign up: invitation: %w", store.ErrNotFound)
			}
		}
		c := u.Credential
		_, err := q.Exec(ctx, `INSERT INTO users (`+userColumns+`, password_argon2) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			string(u.ID), u.Name, c.User, c.HA1MD5, c.HA1SHA256, c.PassSHA256, u.Admin, sqlrow.Nanos(now), false, phc)
		if isConstraint(err) {
			return fmt.Errorf("sign up %s: %w", u.Name, store.ErrExists)
		}
		if err != nil {
			return fmt.Errorf("sign up %s: %w", u.Name, err)
		}
		return nil
	})
}
