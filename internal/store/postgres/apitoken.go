package postgres

import (
	"context"
	"fmt"
	"time"

	"vigil/internal/access"
	"vigil/internal/store"
	"vigil/internal/store/sqlrow"
)

// CreateAPIToken stores a token's hashes.
func (s *Store) CreateAPIToken(ctx context.Context, t store.APIToken) error {
	c := t.Credential
	_, err := s.q(ctx).Exec(ctx, `INSERT INTO api_tokens (id, user_id, name, ha1_md5, ha1_sha256, pass_sha256, created_at, expires_at, scope)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, t.ID, string(t.User), t.Name, c.HA1MD5, c.HA1SHA256, c.PassSHA256,
		sqlrow.Nanos(t.Created), sqlrow.Nanos(t.Expires), string(t.Scope))
	if err != nil {
		return fmt.Errorf("create api token: %w", err)
	}
	return nil
}

// APITokens lists a user's live tokens.
func (s *Store) APITokens(ctx context.Context, user access.UserID, now time.Time) ([]store.APIToken, error) {
	rows, err := s.q(ctx).Query(ctx, `SELECT `+sqlrow.APITokenColumns+`
		FROM api_tokens WHERE user_id = $1 AND expires_at > $2 ORDER BY created_at`, string(user), sqlrow.Nanos(now))
	if err != nil {
		return nil, fmt.Errorf("api tokens of %s: %w", user, err)
	}
	defer rows.Close()
	out, err := sqlrow.Collect(rows, sqlrow.APIToken(user))
	if err != nil {
		return nil, fmt.Errorf("api tokens of %s: %w", user, err)
	}
	return out, nil
}

// DeleteAPIToken revokes a user's token, or returns an error wrapping store.ErrNotFound.
func (s *Store) DeleteAPIToken(ctx context.Context, user access.UserID, id string) error {
	res, err := s.q(ctx).Exec(ctx, `DELETE FROM api_tokens WHERE user_id = $1 AND id = $2`, string(user), id)
	return changedOneUser(res, err, user)
}
