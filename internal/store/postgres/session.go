package postgres

import (
	"context"
	"errors"
	"fmt"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"time"

	"vigil/internal/access"
	"vigil/internal/store"
	"vigil/internal/store/sqlrow"
)

// SetPassword stores a user's argon2id password hash and, in one
// transaction, cuts off whoever held the old one: the generated password
// is cleared entirely (user name and every hash, so no RTSP Digest answer
// can match it), every API token is deleted, and every sign-in session
// ends but keepSession (the SHA-256 of the session that made the change;
// "" ends them all). Stream tokens bound to what ended die with it.
func (s *Store) SetPassword(ctx context.Context, user access.UserID, phc, keepSession string) error {
	return s.txAs(ctx, "set password of "+string(user), func(q querier) error {
		res, err := q.Exec(ctx, `UPDATE users SET password_argon2 = $1,
			cred_user = '', ha1_md5 = '', ha1_sha256 = '', pass_sha256 = '' WHERE id = $2`, phc, string(user))
		if err := changedOneUser(res, err, user); err != nil {
			return err
		}
		if _, err := q.Exec(ctx, `DELETE FROM api_tokens WHERE user_id = $1`, string(user)); err != nil {
			return err
		}
		_, err = q.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1 AND id_sha256 != $2`, string(user), keepSession)
		return err
	})
}

// PasswordHash returns a user's argon2id hash ("" when none was set).
func (s *Store) PasswordHash(ctx context.Context, user access.UserID) (string, error) {
	var phc string
	err := s.q(ctx).QueryRow(ctx, `SELECT password_argon2 FROM users WHERE id = $1`, string(user)).Scan(&phc)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("user %s: %w", user, store.ErrNotFound)
	}
	return phc, err
}

// CreateSession stores a session.
func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	_, err := s.q(ctx).Exec(ctx, `INSERT INTO sessions (id_sha256, user_id, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		sess.IDSHA256, string(sess.User), sess.CSRF, sqlrow.Nanos(sess.Created), sqlrow.Nanos(sess.Expires))
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// Session returns the live session with the hash, or an error wrapping store.ErrNotFound.
func (s *Store) Session(ctx context.Context, idSHA256 string, now time.Time) (store.Session, error) {
	var (
		sess             store.Session
		user             string
		created, expires int64
	)
	err := s.q(ctx).QueryRow(ctx, `SELECT id_sha256, user_id, csrf, created_at, expires_at FROM sessions
		WHERE id_sha256 = $1 AND expires_at > $2`, idSHA256, sqlrow.Nanos(now)).Scan(&sess.IDSHA256, &user, &sess.CSRF, &created, &expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Session{}, fmt.Errorf("session: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Session{}, fmt.Errorf("session: %w", err)
	}
	sess.User, sess.Created, sess.Expires = access.UserID(user), sqlrow.FromNanos(created), sqlrow.FromNanos(expires)
	return sess, nil
}

// DeleteSession ends one session.
func (s *Store) DeleteSession(ctx context.Context, idSHA256 string) error {
	_, err := s.q(ctx).Exec(ctx, `DELETE FROM sessions WHERE id_sha256 = $1`, idSHA256)
	return err
}

func changedOneUser(tag pgconn.CommandTag, err error, user access.UserID) error {
	if err != nil {
		return fmt.Errorf("user %s: %w", user, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("user %s: %w", user, store.ErrNotFound)
	}
	return nil
}
