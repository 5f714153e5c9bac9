package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"vigil/internal/access"
	"vigil/internal/auth"
	"vigil/internal/store/sqlrow"
)

// The store answers auth's reads as rows in auth's types (auth.Records);
// what auth decides from them it decides itself, for every store
// (auth.StoreDirectory). A missing entry is an error wrapping
// auth.ErrUnknown.
var _ auth.Records = (*Store)(nil)

// DeviceCredential is what device publishes with.
func (s *Store) DeviceCredential(ctx context.Context, id access.DeviceID) (auth.Credential, error) {
	dev, err := s.Device(ctx, id)
	return dev.Credential, sqlrow.Unknown(err)
}

// Facts is the device's owner, state and epoch with user's share of it,
// in one statement: a grant's whole read of the store.
func (s *Store) Facts(ctx context.Context, user access.UserID, device access.DeviceID) (auth.Facts, error) {
	row := s.db.QueryRowContext(ctx, `SELECT `+sqlrow.FactsColumns+` FROM devices d
		LEFT JOIN shares s ON s.device = d.id AND s.viewer = ? WHERE d.id = ?`, string(user), string(device))
	f, err := sqlrow.Facts(row)
	if errors.Is(err, sql.ErrNoRows) {
		return f, fmt.Errorf("%w: device %s", auth.ErrUnknown, device)
	}
	return f, err
}

// PrincipalRecord is the user name, without tokens.
func (s *Store) PrincipalRecord(ctx context.Context, name string) (auth.Principal, error) {
	return sqlrow.Principal(s.UserByName(ctx, name))
}

// PrincipalRecordOf is the user id, without tokens.
func (s *Store) PrincipalRecordOf(ctx context.Context, id access.UserID) (auth.Principal, error) {
	return sqlrow.Principal(s.User(ctx, id))
}
