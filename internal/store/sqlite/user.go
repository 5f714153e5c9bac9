package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"vigil/internal/access"
	"vigil/internal/store"
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
		string(u.ID), u.Name, c.User, c.HA1MD5, c.HA1SHA256, c.PassSHA256, u.Admin, nanos(u.CreatedAt), u.Disabled)
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
	u.ID, u.CreatedAt = access.UserID(id), fromNanos(created)
	return u, nil
}
