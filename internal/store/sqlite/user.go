package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"vigil/internal/access"
	"vigil/internal/auth"
	"vigil/internal/store"
	"vigil/internal/store/sqlrow"
)

const userColumns = `id, name, cred_user, ha1_md5, ha1_sha256, pass_sha256, admin, created_at, disabled`

// UpsertUser creates the user, or updates its name, credential and admin
// flag if the id exists (CreatedAt is kept). A zero CreatedAt is stored as
// now. It returns an error wrapping store.ErrExists if another user has the
// name.
func (s *Store) UpsertUser(ctx context.Context, u store.User) error {
	if u.ID == "" || u.Name == "" {
		return fmt.Errorf("upsert user %q: id and name must not be empty", u.ID)
	}
	c := u.Credential
	_, err := s.db.ExecContext(ctx, `INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, cred_user = excluded.cred_user,
			ha1_md5 = excluded.ha1_md5, ha1_sha256 = excluded.ha1_sha256,
			pass_sha256 = excluded.pass_sha256, admin = excluded.admin, disabled = excluded.disabled`,
		string(u.ID), u.Name, c.User, c.HA1MD5, c.HA1SHA256, c.PassSHA256, u.Admin, sqlrow.Nanos(u.CreatedAt), u.Disabled)
	if isConstraint(err) {
		return fmt.Errorf("upsert user %s: name %q: %w", u.ID, u.Name, store.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("upsert user %s: %w", u.ID, err)
	}
	return nil
}

// User returns the user with id, or an error wrapping store.ErrNotFound.
func (s *Store) User(ctx context.Context, id access.UserID) (store.User, error) {
	return s.user(ctx, "id", string(id))
}

// UserByName returns the user named name, or an error wrapping
// store.ErrNotFound.
func (s *Store) UserByName(ctx context.Context, name string) (store.User, error) {
	return s.user(ctx, "name", name)
}

// user looks a user up by column, which is one of the constants above.
func (s *Store) user(ctx context.Context, column, value string) (store.User, error) {
	var (
		u       store.User
		id      string
		created int64
	)
	c := &u.Credential
	err := s.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE `+column+` = ?`, value).
		Scan(&id, &u.Name, &c.User, &c.HA1MD5, &c.HA1SHA256, &c.PassSHA256, &u.Admin, &created, &u.Disabled)
	if errors.Is(err, sql.ErrNoRows) {
		return store.User{}, fmt.Errorf("user %s %q: %w", column, value, store.ErrNotFound)
	}
	if err != nil {
		return store.User{}, fmt.Errorf("user %s %q: %w", column, value, err)
	}
	u.ID, u.CreatedAt = access.UserID(id), sqlrow.FromNanos(created)
	return u, nil
}

// Users lists every user by name.
func (s *Store) Users(ctx context.Context) ([]store.User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, admin, created_at, disabled FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("users: %w", err)
	}
	defer rows.Close()
	var out []store.User
	for rows.Next() {
		var u store.User
		var created int64
		if err := rows.Scan(&u.ID, &u.Name, &u.Admin, &created, &u.Disabled); err != nil {
			return nil, fmt.Errorf("users: %w", err)
		}
		u.CreatedAt = sqlrow.FromNanos(created)
		out = append(out, u)
	}
	return out, rows.Err()
}

// SetUserDisabled disables or enables a user. Disabling ends the user's
// sign-in sessions in the same transaction; the revocation trigger tells a
// running server to end the user's live viewing.
func (s *Store) SetUserDisabled(ctx context.Context, user access.UserID, disabled bool) error {
	return s.txAs(ctx, "disable user "+string(user), func(q querier) error {
		res, err := q.ExecContext(ctx, `UPDATE users SET disabled = ? WHERE id = ?`, disabled, string(user))
		if err := changedOneUser(res, err, user); err != nil || !disabled {
			return err
		}
		_, err = q.ExecContext(ctx, `DELETE FROM sessions WHERE user = ?`, string(user))
		return err
	})
}

// ResetCredential gives a user a new generated password: the password the
// user chose (if any) and every sign-in session end with it.
func (s *Store) ResetCredential(ctx context.Context, user access.UserID, c auth.Credential) error {
	return s.txAs(ctx, "reset password of "+string(user), func(q querier) error {
		res, err := q.ExecContext(ctx, `UPDATE users SET cred_user = ?, ha1_md5 = ?, ha1_sha256 = ?, pass_sha256 = ?,
			password_argon2 = '' WHERE id = ?`, c.User, c.HA1MD5, c.HA1SHA256, c.PassSHA256, string(user))
		if err := changedOneUser(res, err, user); err != nil {
			return err
		}
		_, err = q.ExecContext(ctx, `DELETE FROM sessions WHERE user = ?`, string(user))
		return err
	})
}

// txAs runs f in a transaction (the one open on ctx, or a new one) and
// wraps its error with what.
func (s *Store) txAs(ctx context.Context, what string, f func(q querier) error) error {
	if err := s.inTx(ctx, f); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
