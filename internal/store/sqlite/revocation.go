package sqlite

import (
	"context"
	"fmt"
	"time"

	"vigil/internal/store"
	"vigil/internal/store/sqlrow"
)

// Revocations returns the revocations recorded after id, oldest first, at
// most limit of them. The rows are written by triggers (migration 0007) in
// the transaction of the change that caused them.
func (s *Store) Revocations(ctx context.Context, after int64, limit int) ([]store.Revocation, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, user, device, created_at FROM revocations WHERE id > ? ORDER BY id LIMIT ?`,
		after, limit)
	if err != nil {
		return nil, fmt.Errorf("revocations after %d: %w", after, err)
	}
	defer rows.Close()
	out, err := sqlrow.Collect(rows, sqlrow.Revocation)
	if err != nil {
		return nil, fmt.Errorf("revocations after %d: %w", after, err)
	}
	return out, nil
}

// LastRevocation returns the id of the newest revocation (0 when none).
func (s *Store) LastRevocation(ctx context.Context) (int64, error) {
	var id int64
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM revocations`).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("last revocation: %w", err)
	}
	return id, nil
}

// PruneRevocations deletes revocations recorded before t.
func (s *Store) PruneRevocations(ctx context.Context, t time.Time) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM revocations WHERE created_at < ?`, sqlrow.Nanos(t)); err != nil {
		return fmt.Errorf("prune revocations: %w", err)
	}
	return nil
}

// Wakeups returns nil: SQLite tells no one of another process's commit, so
// a reader polls Revocations.
func (s *Store) Wakeups() <-chan struct{} { return nil }
