// Package sqlite is the default store: one SQLite database file in WAL mode
// with synchronous=FULL, so a write that returned survives a crash or power
// loss. Its schema is versioned by the migrations in migrations/, applied in
// order at Open, each in its own transaction.
//
// Everything SQLite-specific stays here; callers see only store's types.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"time"

	sqlite3 "modernc.org/sqlite"
	sqlite3lib "modernc.org/sqlite/lib"

	"vigil/internal/store"
)

// busyTimeout is how long a statement waits for another writer's lock.
const busyTimeout = 5 * time.Second

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Store is a SQLite-backed store. Its methods are safe for concurrent use.
type Store struct {
	db      *sql.DB
	tracer  *tracer
	secrets Secrets // nil: sources can be neither written nor read sealed
}

// Open opens or creates the database at path (mode 0600; an existing file
// is made private) and applies any migrations it lacks. The directory must
// exist. With WithSecrets it also seals secrets stored in clear.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("open store %q: path must be non-empty and contain no '?' or '#'", path)
	}
	if err := privateFile(path); err != nil {
		return nil, err
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.Itoa(int(busyTimeout.Milliseconds()))+")")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "secure_delete(1)") // deleted and overwritten secrets leave no trace in the file
	q.Set("_txlock", "immediate")        // writers queue at BEGIN instead of failing on upgrade
	t := &tracer{}
	db := sql.OpenDB(connector{dsn: path + "?" + q.Encode(), drv: &sqlite3.Driver{}, t: t, gate: make(writeGate, 1)})
	s := &Store{db: db, tracer: t}
	for _, o := range opts {
		o(s)
	}
	if err := s.migrateRetrying(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if s.secrets != nil {
		if err := s.sealClearSources(ctx); err != nil {
			db.Close()
			return nil, fmt.Errorf("open store %s: %w", path, err)
		}
	}
	return s, nil
}

// migrateRetrying runs migrate, again while another process holds the new
// database's lock: SQLite answers SQLITE_BUSY at once, without the busy
// timeout, while a fresh file is switched to WAL by another connection.
func (s *Store) migrateRetrying(ctx context.Context) error {
	deadline := time.Now().Add(busyTimeout)
	for {
		err := s.migrate(ctx)
		if !isBusy(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(10+rand.IntN(40)) * time.Millisecond):
		}
	}
}

// isBusy reports SQLite's "database is locked".
func isBusy(err error) bool {
	var e *sqlite3.Error
	return errors.As(err, &e) && e.Code()&0xff == sqlite3lib.SQLITE_BUSY
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func migrations() ([]store.Migration, error) { return store.Migrations(migrationFiles, "migrations") }

// migrate applies the migrations the database lacks. Each runs in an
// immediate transaction that first re-reads the applied versions, so two
// processes opening the same new database do not both apply one.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		return fmt.Errorf("create migrations table: %w", err)
	}
	var newest int
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM migrations`).Scan(&newest); err != nil {
		return fmt.Errorf("read migrations: %w", err)
	}
	if last := ms[len(ms)-1].Version; newest > last {
		return fmt.Errorf("database schema version %d is newer than this binary's %d; run a newer vigil", newest, last)
	}
	for _, m := range ms {
		if m.Version <= newest {
			continue
		}
		if err := s.apply(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) apply(ctx context.Context, m store.Migration) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migration %s: %w", m.Name, err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM migrations WHERE version = ?`, m.Version).Scan(&n); err != nil {
		return fmt.Errorf("migration %s: %w", m.Name, err)
	}
	if n > 0 {
		return nil // another process applied it first
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return fmt.Errorf("migration %s: %w", m.Name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.Version, m.Name, time.Now().UnixNano()); err != nil {
		return fmt.Errorf("migration %s: %w", m.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migration %s: %w", m.Name, err)
	}
	return nil
}

// isConstraint reports whether err is a primary key or unique violation.
func isConstraint(err error) bool {
	var e *sqlite3.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code() == sqlite3lib.SQLITE_CONSTRAINT_PRIMARYKEY || e.Code() == sqlite3lib.SQLITE_CONSTRAINT_UNIQUE
}

// isForeignKey reports a reference to a row that does not exist.
func isForeignKey(err error) bool {
	var e *sqlite3.Error
	return errors.As(err, &e) && e.Code() == sqlite3lib.SQLITE_CONSTRAINT_FOREIGNKEY
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }
