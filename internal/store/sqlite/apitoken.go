package sqlite

import (
	"context"
	"fmt"
	"time"

	"vigil/internal/access"
	"vigil/internal/store"
)

// CreateAPIToken stores a token's hashes.
func (s *Store) CreateAPIToken(ctx context.Context, t store.APIToken) error {
	c := t.Credential
	_, err := s.db.ExecContext(ctx, `INSERT INTO api_tokens (id, user, name, ha1_md5, ha1_sha256, pass_sha256, created_at, expires_at, scope)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, t.ID, string(t.User), t.Name, c.HA1MD5, c.HA1SHA256, c.PassSHA256,
		nanos(t.Created), nanos(t.Expires), string(t.Scope))
	if err != nil {
		return fmt.Errorf("create api token: %w", err)
	}
	return nil
}

// APITokens lists a user's live tokens.
func (s *Store) APITokens(ctx context.Context, user access.UserID, now time.Time) ([]store.APIToken, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, ha1_md5, ha1_sha256, pass_sha256, created_at, expires_at, scope
		FROM api_tokens WHERE user = ? AND expires_at > ? ORDER BY created_at`, string(user), nanos(now))
	if err != nil {
		return nil, fmt.Errorf("api tokens of %s: %w", user, err)
	}
	defer rows.Close()
	var out []store.APIToken
	for rows.Next() {
		t := store.APIToken{User: user}
		var created, expires int64
		c := &t.Credential
		if err := rows.Scan(&t.ID, &t.Name, &c.HA1MD5, &c.HA1SHA256, &c.PassSHA256, &created, &expires, &t.Scope); err != nil {
			return nil, fmt.Errorf("api tokens of %s: %w", user, err)
		}
		t.Created, t.Expires = fromNanos(created), fromNanos(expires)
		out = append(out, t)
	}
	return out, rows.Err()
}

// DeleteAPIToken revokes a user's token, or returns an error wrapping store.ErrNotFound.
func (s *Store) DeleteAPIToken(ctx context.Context, user access.UserID, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM api_tokens WHERE user = ? AND id = ?`, string(user), id)
	return changedOneUser(res, err, user)
}
