// Package postgres is the store for more than one Vigil node: a Postgres
// database (15 or newer) reached through a pgx connection pool. Its schema
// is versioned by the migrations in migrations/, which mirror the SQLite
// store's one for one, applied in order at Open, each in its own
// transaction, one process at a time.
//
// Everything Postgres-specific stays here; callers see only store's types.
// It keeps the SQLite store's behaviour, which the conformance suite in
// testkit/storetest holds both to.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"vigil/internal/store"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Store is a Postgres-backed store. Its methods are safe for concurrent use.
type Store struct {
	pool    *pgxpool.Pool
	tracer  *tracer
	secrets store.Secrets // nil: sources can be neither written nor read sealed

	wake         chan struct{} // capacity 1: a revocation may have been committed
	stopListen   context.CancelFunc
	listenerDone chan struct{}
	closeOnce    sync.Once
}

// Option configures Open.
type Option func(*Store)

// WithSecrets seals secrets at rest (pull-source URLs) with s.
func WithSecrets(s store.Secrets) Option { return func(st *Store) { st.secrets = s } }

// Open connects to the database dsn names (a postgres:// URL or key=value
// pairs, as libpq takes them; pool_max_conns and the other pgxpool
// settings may be added), applies any migrations it lacks and starts
// listening for revocations.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("open store: %w; give store_dsn as postgres://user:password@host:5432/db or host=... dbname=...", err)
	}
	listenCfg := cfg.ConnConfig.Copy()
	t := &tracer{}
	cfg.ConnConfig.Tracer = t
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	s := &Store{pool: pool, tracer: t, wake: make(chan struct{}, 1), listenerDone: make(chan struct{})}
	for _, o := range opts {
		o(s)
	}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open store %s: %w", cfg.ConnConfig.Database, err)
	}
	lctx, cancel := context.WithCancel(context.Background())
	s.stopListen = cancel
	go s.listen(lctx, listenCfg)
	return s, nil
}

// Close stops listening and closes the pool.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.stopListen()
		<-s.listenerDone
		s.pool.Close()
	})
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

func migrations() ([]store.Migration, error) { return store.Migrations(migrationFiles, "migrations") }

// migrationLock is the transaction-scoped advisory lock that keeps two
// processes from migrating at once (CREATE TABLE IF NOT EXISTS itself
// races in Postgres).
const migrationLock = 0x76696769 // "vigi"

// migrate applies the migrations the database lacks, one transaction each.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	for {
		done, err := s.applyNext(ctx, ms)
		if err != nil || done {
			return err
		}
	}
}

// applyNext applies the first migration the database lacks and reports
// whether none was left.
func (s *Store) applyNext(ctx context.Context, ms []store.Migration) (done bool, err error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
		return false, fmt.Errorf("migrate: lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at BIGINT NOT NULL
	)`); err != nil {
		return false, fmt.Errorf("create migrations table: %w", err)
	}
	var newest int
	if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM migrations`).Scan(&newest); err != nil {
		return false, fmt.Errorf("read migrations: %w", err)
	}
	if last := ms[len(ms)-1].Version; newest > last {
		return false, fmt.Errorf("database schema version %d is newer than this binary's %d; run a newer vigil", newest, last)
	}
	// Every migration the database lacks, not only those past its newest:
	// one ported from SQLite may come after a later-numbered one.
	rows, err := tx.Query(ctx, `SELECT version FROM migrations`)
	if err != nil {
		return false, fmt.Errorf("read migrations: %w", err)
	}
	applied, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return false, fmt.Errorf("read migrations: %w", err)
	}
	i := slices.IndexFunc(ms, func(m store.Migration) bool { return !slices.Contains(applied, m.Version) })
	if i < 0 {
		return true, tx.Commit(ctx)
	}
	m := ms[i]
	if _, err := tx.Exec(ctx, m.SQL); err != nil {
		return false, fmt.Errorf("migration %s: %w", m.Name, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
		m.Version, m.Name, time.Now().UnixNano()); err != nil {
		return false, fmt.Errorf("migration %s: %w", m.Name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("migration %s: %w", m.Name, err)
	}
	return false, nil
}

// Postgres error codes (Appendix A of its manual).
const (
	uniqueViolation     = "23505"
	foreignKeyViolation = "23503"
)

func hasCode(err error, code string) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == code
}

// isConstraint reports whether err is a primary key or unique violation.
func isConstraint(err error) bool { return hasCode(err, uniqueViolation) }

// isForeignKey reports a reference to a row that does not exist.
func isForeignKey(err error) bool { return hasCode(err, foreignKeyViolation) }
