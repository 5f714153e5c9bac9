package postgres

import (
	"context"
	"errors"
	"fmt"
	"github.com/jackc/pgx/v5"
	"time"

	"vigil/internal/oauth"
	"vigil/internal/store"
	"vigil/internal/store/sqlrow"
)

// CreateToken stores a token record. Its link must exist.
func (s *Store) CreateToken(ctx context.Context, t oauth.Token) error {
	var expires int64
	if !t.Expires.IsZero() {
		expires = sqlrow.Nanos(t.Expires)
	}
	_, err := s.q(ctx).Exec(ctx, `INSERT INTO oauth_tokens (kind, signature_sha256, link, active, created_at, expires_at, request)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, string(t.Kind), t.SignatureSHA256, t.Link, t.Active, sqlrow.Nanos(t.Created), expires, t.Request)
	switch {
	case isForeignKey(err):
		return fmt.Errorf("create %s token: link %s: %w", t.Kind, t.Link, store.ErrNotFound)
	case isConstraint(err):
		return fmt.Errorf("create %s token: %w", t.Kind, store.ErrExists)
	case err != nil:
		return fmt.Errorf("create %s token: %w", t.Kind, err)
	}
	return nil
}

// Token returns a token record, active or not, or an error wrapping
// store.ErrNotFound.
func (s *Store) Token(ctx context.Context, kind oauth.TokenKind, signatureSHA256 string) (oauth.Token, error) {
	t := oauth.Token{Kind: kind, SignatureSHA256: signatureSHA256}
	var created, expires int64
	err := s.q(ctx).QueryRow(ctx, `SELECT link, active, created_at, expires_at, request FROM oauth_tokens
		WHERE kind = $1 AND signature_sha256 = $2`, string(kind), signatureSHA256).Scan(&t.Link, &t.Active, &created, &expires, &t.Request)
	if errors.Is(err, pgx.ErrNoRows) {
		return oauth.Token{}, fmt.Errorf("%s token: %w", kind, store.ErrNotFound)
	}
	if err != nil {
		return oauth.Token{}, fmt.Errorf("%s token: %w", kind, err)
	}
	t.Created, t.Expires = sqlrow.FromNanos(created), sqlrow.OptionalTime(expires)
	return t, nil
}

// DeleteToken deletes a token record; a missing one is an error wrapping
// store.ErrNotFound.
func (s *Store) DeleteToken(ctx context.Context, kind oauth.TokenKind, signatureSHA256 string) error {
	res, err := s.q(ctx).Exec(ctx, `DELETE FROM oauth_tokens WHERE kind = $1 AND signature_sha256 = $2`, string(kind), signatureSHA256)
	return changedOne(res, err, "delete token", kind)
}

// SpendCode deactivates an active authorization code and marks its link
// linked (if it was pending), in one transaction. A missing or spent code
// is an error wrapping store.ErrNotFound.
func (s *Store) SpendCode(ctx context.Context, signatureSHA256 string, at time.Time) error {
	return s.inTx(ctx, func(q querier) error {
		var link string
		err := q.QueryRow(ctx, `UPDATE oauth_tokens SET active = FALSE
			WHERE kind = $1 AND signature_sha256 = $2 AND active RETURNING link`, string(oauth.KindCode), signatureSHA256).Scan(&link)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("spend code: %w", store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("spend code: %w", err)
		}
		if _, err := q.Exec(ctx, `UPDATE oauth_links SET linked_at = $1 WHERE id = $2 AND linked_at = 0`, sqlrow.Nanos(at), link); err != nil {
			return fmt.Errorf("spend code: link %s: %w", link, err)
		}
		return nil
	})
}

// RetireRefreshTokens deactivates every refresh token of the link but one.
func (s *Store) RetireRefreshTokens(ctx context.Context, link, keepSHA256 string) error {
	_, err := s.q(ctx).Exec(ctx, `UPDATE oauth_tokens SET active = FALSE
		WHERE link = $1 AND kind = $2 AND signature_sha256 != $3 AND active`, link, string(oauth.KindRefresh), keepSHA256)
	if err != nil {
		return fmt.Errorf("retire refresh tokens of link %s: %w", link, err)
	}
	return nil
}

// PurgeOAuth deletes tokens that expired before expired, refresh tokens
// retired by rotation that were issued before retired, and links never
// completed that were created before expired; it returns how many rows went.
func (s *Store) PurgeOAuth(ctx context.Context, expired, retired time.Time) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(q querier) error {
		for _, d := range []struct {
			stmt string
			args []any
		}{
			{`DELETE FROM oauth_tokens WHERE expires_at != 0 AND expires_at < $1`, []any{sqlrow.Nanos(expired)}},
			{`DELETE FROM oauth_tokens WHERE kind = $1 AND NOT active AND created_at < $2`, []any{string(oauth.KindRefresh), sqlrow.Nanos(retired)}},
			{`DELETE FROM oauth_links WHERE linked_at = 0 AND created_at < $1`, []any{sqlrow.Nanos(expired)}},
		} {
			res, err := q.Exec(ctx, d.stmt, d.args...)
			if err != nil {
				return err
			}
			n += res.RowsAffected()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("purge oauth: %w", err)
	}
	return n, nil
}
