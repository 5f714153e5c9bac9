package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"vigil/internal/access"
	"vigil/internal/record"
	"vigil/internal/store"
	"vigil/internal/store/sqlrow"
)

var _ record.ExportIndex = (*Store)(nil)

// Export returns an export and its epoch's secret.
func (s *Store) Export(ctx context.Context, id int64) (record.Export, []byte, error) {
	e, secret, err := sqlrow.ExportWithSecret(s.db.QueryRowContext(ctx,
		`SELECT `+sqlrow.ExportColumns+`, epoch_secret FROM exports WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return e, nil, fmt.Errorf("export %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return e, nil, fmt.Errorf("export %d: %w", id, err)
	}
	return e, secret, nil
}

// ExportsOf lists the household's exports, by release.
func (s *Store) ExportsOf(ctx context.Context, household access.UserID) ([]record.Export, error) {
	return s.exports(ctx, `household = ?`, string(household))
}

// DeviceExports lists the device's exports, by release.
func (s *Store) DeviceExports(ctx context.Context, device access.DeviceID) ([]record.Export, error) {
	return s.exports(ctx, `device = ?`, string(device))
}

// exports runs a query whose where clause is one of the constants above.
func (s *Store) exports(ctx context.Context, where string, arg string) ([]record.Export, error) {
	return queryAll(ctx, s.db, sqlrow.Export, "exports of "+arg,
		`SELECT `+sqlrow.ExportColumns+` FROM exports WHERE `+where+` ORDER BY released_at, id`, arg)
}

// queryAll runs query and scans every row with scan; what names the
// query in errors.
func queryAll[T any](ctx context.Context, db *sql.DB, scan func(sqlrow.Scanner) (T, error), what, query string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	out, err := sqlrow.Collect(rows, scan)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// DestroyExport deletes the export's row and with it its epoch's secret.
func (s *Store) DestroyExport(ctx context.Context, id int64) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM exports WHERE id = ?`, id); err != nil {
		return fmt.Errorf("destroy export %d: %w", id, err)
	}
	return nil
}
