package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"vigil/internal/store"
	"vigil/internal/store/sqlrow"
)

// revocationChannel is what the revocation triggers (migration 0007)
// notify at commit.
const revocationChannel = "vigil_revocations"

// listenRetry is how long the listener waits before connecting again.
const listenRetry = time.Second

// Revocations returns the revocations recorded after id, oldest first, at
// most limit of them. The rows are written by triggers (migration 0007) in
// the transaction of the change that caused them, and become visible in
// id order.
func (s *Store) Revocations(ctx context.Context, after int64, limit int) ([]store.Revocation, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, user_id, device, created_at FROM revocations WHERE id > $1 ORDER BY id LIMIT $2`,
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
	if err := s.pool.QueryRow(ctx, `SELECT COALESCE(MAX(id), 0) FROM revocations`).Scan(&id); err != nil {
		return 0, fmt.Errorf("last revocation: %w", err)
	}
	return id, nil
}

// PruneRevocations deletes revocations recorded before t.
func (s *Store) PruneRevocations(ctx context.Context, t time.Time) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM revocations WHERE created_at < $1`, sqlrow.Nanos(t)); err != nil {
		return fmt.Errorf("prune revocations: %w", err)
	}
	return nil
}

// Wakeups receives when revocations may have been committed, by any
// process on any node: on each notification, and each time the listener
// (re)connects, since notifications sent while it was away are lost. It
// is a hint to read Revocations now; a reader still polls, more slowly,
// because a wake-up can come late or, between a connection's loss and its
// detection, not at all. One reader: a wake-up goes to one receive.
func (s *Store) Wakeups() <-chan struct{} { return s.wake }

func (s *Store) wakeUp() {
	select {
	case s.wake <- struct{}{}:
	default: // one pending is enough
	}
}

// listen holds a connection of its own in LISTEN until ctx ends,
// reconnecting after listenRetry whenever it is lost.
func (s *Store) listen(ctx context.Context, cfg *pgx.ConnConfig) {
	defer close(s.listenerDone)
	for {
		_ = s.listenOnce(ctx, cfg) // the poll covers the gap; a reconnect wakes
		select {
		case <-ctx.Done():
			return
		case <-time.After(listenRetry):
		}
	}
}

func (s *Store) listenOnce(ctx context.Context, cfg *pgx.ConnConfig) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+revocationChannel); err != nil {
		return err
	}
	s.wakeUp() // whatever was committed while no one listened
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		s.wakeUp()
	}
}
