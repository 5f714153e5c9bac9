package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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
		res, err := q.ExecContext(ctx, `UPDATE users SET password_argon2 = ?,
			cred_user = '', ha1_md5 = '', ha1_sha256 = '', pass_sha256 = '' WHERE id = ?`, phc, string(user))
		if err := changedOneUser(res, err, user); err != nil {
			return err
		}
		if _, err := q.ExecContext(ctx, `DELETE FROM api_tokens WHERE user = ?`, string(user)); err != nil {
			return err
		}
		_, err = q.ExecContext(ctx, `DELETE FROM sessions WHERE user = ? AND id_sha256 != ?`, string(user), keepSession)
		return err
	})
}

// PasswordHash returns a user's argon2id hash ("" when none was set).
func (s *Store) PasswordHash(ctx context.Context, user access.UserID) (string, error) {
	var phc string
	err := s.db.QueryRowContext(ctx, `SELECT password_argon2 FROM users WHERE id = ?`, string(user)).Scan(&phc)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("user %s: %w", user, store.ErrNotFound)
	}
	return phc, err
}

// CreateSession stores a session.
func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO sessions (id_sha256, user, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
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
	err := s.db.QueryRowContext(ctx, `SELECT id_sha256, user, csrf, created_at, expires_at FROM sessions
		WHERE id_sha256 = ? AND expires_at > ?`, idSHA256, sqlrow.Nanos(now)).Scan(&sess.IDSHA256, &user, &sess.CSRF, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
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
	_, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE id_sha256 = ?`, idSHA256)
	return err
}

func changedOneUser(res sql.Result, err error, user access.UserID) error {
	if err != nil {
		return fmt.Errorf("user %s: %w", user, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("user %s: %w", user, store.ErrNotFound)
	}
	return nil
}
