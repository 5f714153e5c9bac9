package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"vigil/internal/access"
	"vigil/internal/store"
	"vigil/internal/store/postgres"
	"vigil/internal/testkit"
	"vigil/internal/testkit/pgtest"
)

func open(t *testing.T, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func count(t *testing.T, c *pgx.Conn, query string, args ...any) int {
	t.Helper()
	var n int
	if err := c.QueryRow(t.Context(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// awaitWake fails unless s wakes within timeout.
func awaitWake(t *testing.T, s *postgres.Store, what string) {
	t.Helper()
	select {
	case <-s.Wakeups():
	case <-time.After(10 * time.Second):
		t.Fatalf("no wake-up %s within 10 s", what)
	}
}

func users(t *testing.T, s *postgres.Store, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := s.UpsertUser(t.Context(), store.User{ID: access.UserID(id), Name: id}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestWakeups: a revocation committed through one store (one node) wakes
// another's reader, also after the other's listening connection was cut
// and the change was committed while no one listened.
func TestWakeups(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	a, b := open(t, dsn), open(t, dsn)
	users(t, a, "u-1", "u-2")
	awaitWake(t, b, "when b starts listening")
	if err := a.SetUserDisabled(t.Context(), "u-1", true); err != nil {
		t.Fatal(err)
	}
	awaitWake(t, b, "for a revocation committed through a")

	admin := connect(t, dsn)
	listeners := `SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN vigil_revocations'`
	if n := count(t, admin, `SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND query = 'LISTEN vigil_revocations'`); n != 2 {
		t.Fatalf("cut %d listening connections, want a's and b's", n)
	}
	testkit.WaitFor(t, 10*time.Second, "listeners gone", func() error {
		if n := count(t, admin, listeners); n != 0 {
			return fmt.Errorf("%d still listening", n)
		}
		return nil
	})
	select { // a wake-up from before the cut is not the one awaited
	case <-b.Wakeups():
	default:
	}
	if err := a.SetUserDisabled(t.Context(), "u-2", true); err != nil {
		t.Fatal(err)
	}
	awaitWake(t, b, "after b's listener was cut")
	rs, err := b.Revocations(t.Context(), 0, 10)
	if err != nil || len(rs) != 2 || rs[1].User != "u-2" {
		t.Fatalf("revocations after the wake-up: %+v, %v", rs, err)
	}
}

// TestRevocationsCommitInOrder: a revoking transaction waits for an older
// one to commit, so that ids become visible in order: a reader that saw id
// n has seen every id below it. Without the turn, the second transaction
// would commit id 2 while id 1 is pending, and a reader past 2 would never
// see 1.
func TestRevocationsCommitInOrder(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	s := open(t, dsn)
	users(t, s, "u-first", "u-second")
	ctx, err := s.BeginTx(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Rollback(ctx) }) // before Close, which waits for the connection
	if err := s.SetUserDisabled(ctx, "u-first", true); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var second error
	wg.Go(func() { second = s.SetUserDisabled(t.Context(), "u-second", true) })
	admin := connect(t, dsn)
	testkit.WaitFor(t, 10*time.Second, "second transaction waiting for its turn", func() error {
		if count(t, admin, `SELECT COUNT(*) FROM pg_locks WHERE NOT granted AND relation = 'revocations'::regclass`) != 1 {
			return errors.New("no one waits on the revocations table")
		}
		return nil
	})
	if rs, _ := s.Revocations(t.Context(), 0, 10); len(rs) != 0 {
		t.Fatalf("revocations visible before either commit: %+v", rs)
	}
	if err := s.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if second != nil {
		t.Fatal(second)
	}
	rs, err := s.Revocations(t.Context(), 0, 10)
	if err != nil || len(rs) != 2 || rs[0].User != "u-first" || rs[1].User != "u-second" {
		t.Fatalf("revocations %+v, %v; want u-first's, then u-second's", rs, err)
	}
}

func TestMigrationsIdempotent(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	for i := range 3 {
		s, err := postgres.Open(t.Context(), dsn)
		if err != nil {
			t.Fatalf("open #%d: %v", i, err)
		}
		s.Close()
	}
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migration files: %v %v", files, err)
	}
	last, err := strconv.Atoi(strings.SplitN(filepath.Base(files[len(files)-1]), "_", 2)[0])
	if err != nil {
		t.Fatal(err)
	}
	c := connect(t, dsn)
	if n, v := count(t, c, `SELECT COUNT(*) FROM migrations`), count(t, c, `SELECT MAX(version) FROM migrations`); n != len(files) || v != last {
		t.Fatalf("%d migrations up to %d, want %d up to %d (the files)", n, v, len(files), last)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	open(t, dsn).Close()
	if _, err := connect(t, dsn).Exec(t.Context(), `INSERT INTO migrations VALUES (9999, 'future', 0)`); err != nil {
		t.Fatal(err)
	}
	if s, err := postgres.Open(t.Context(), dsn); err == nil {
		s.Close()
		t.Fatal("Open of a newer schema succeeded")
	}
}

// TestMigrationBelowNewestApplied: a migration numbered below the newest
// applied one (0010, ported from SQLite after 0011) is applied to a
// database that lacks it.
func TestMigrationBelowNewestApplied(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	open(t, dsn).Close()
	c := connect(t, dsn)
	if _, err := c.Exec(t.Context(), `DROP TABLE recordings; DELETE FROM migrations WHERE version = 10`); err != nil {
		t.Fatal(err)
	}
	open(t, dsn).Close()
	if n := count(t, c, `SELECT COUNT(*) FROM migrations WHERE version = 10`); n != 1 {
		t.Fatalf("migration 10 recorded %d times after reopening", n)
	}
	if n := count(t, c, `SELECT COUNT(*) FROM recordings`); n != 0 {
		t.Fatalf("%d recordings in a new table", n)
	}
}
