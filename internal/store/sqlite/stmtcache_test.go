package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/auth"
	"vigil/internal/store"
)

// cachedFor returns the statement the connection caches for the query
// that contains part, or nil.
func cachedFor(t *testing.T, db *sql.DB, part string) *cachedStmt {
	t.Helper()
	c, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var found *cachedStmt
	c.Raw(func(dc any) error {
		for q, e := range dc.(*conn).stmts.byQ {
			if strings.Contains(q, part) {
				found = e.Value.(*cachedStmt)
			}
		}
		return nil
	})
	return found
}

// TestCachedStatementsFollowSchemaChanges: a hot read (a session's
// lookup) is prepared once per connection and kept; when another
// connection changes the schema under it — the sessions table renamed
// away and a new one created in its place, as a migration would — the
// same cached statement reads the new table, and once the column it reads
// is gone it fails instead of answering from the old schema, and is
// dropped from the cache.
func TestCachedStatementsFollowSchemaChanges(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "vigil.db")
	s := open(t, path)
	s.db.SetMaxOpenConns(1) // one connection: one cache to look at
	for _, u := range []string{"u-old", "u-new"} {
		if err := s.UpsertUser(ctx, store.User{ID: access.UserID(u), Name: u,
			Credential: auth.HashCredential(u, "pw"), CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	if err := s.CreateSession(ctx, store.Session{IDSHA256: "h1", User: "u-old", CSRF: "c1",
		Created: now, Expires: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	read := func() (store.Session, error) { return s.Session(ctx, "h1", now) }
	if got, err := read(); err != nil || got.User != "u-old" {
		t.Fatalf("Session = %v, %v; want u-old's", got, err)
	}
	first := cachedFor(t, s.db, "FROM sessions")
	if first == nil {
		t.Fatal("the session lookup was not cached")
	}
	if _, err := read(); err != nil {
		t.Fatal(err)
	}
	if again := cachedFor(t, s.db, "FROM sessions"); again != first {
		t.Fatal("the session lookup was prepared again")
	}

	// Another process's migration: sessions renamed away, a new table
	// with the same name and a different row for the same hash.
	other, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	var create string
	if err := other.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE name = 'sessions'`).Scan(&create); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`DROP INDEX sessions_user`,
		`ALTER TABLE sessions RENAME TO sessions_old`,
		create,
		fmt.Sprintf(`INSERT INTO sessions (id_sha256, user, csrf, created_at, expires_at) VALUES ('h1', 'u-new', 'c2', %d, %d)`,
			now.UnixNano(), now.Add(time.Hour).UnixNano()),
	} {
		if _, err := other.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if got, err := read(); err != nil || got.User != "u-new" || got.CSRF != "c2" {
		t.Fatalf("after the table was replaced Session = %+v, %v; want the new table's u-new", got, err)
	}
	if again := cachedFor(t, s.db, "FROM sessions"); again != first {
		t.Fatal("the cached statement was not the one that followed the change")
	}

	if _, err := other.ExecContext(ctx, `ALTER TABLE sessions DROP COLUMN csrf`); err != nil {
		t.Fatal(err)
	}
	if got, err := read(); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("with the column gone Session = %+v, %v; want an error", got, err)
	}
	if c := cachedFor(t, s.db, "FROM sessions"); c != nil {
		t.Fatal("a statement that failed stayed in the cache")
	}
}

// TestStatementCacheBounded: a connection keeps at most maxCachedStmts
// statements however many query texts it runs, and a text run again while
// its rows are open (one connection, a transaction) is served apart.
func TestStatementCacheBounded(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "vigil.db"))
	s.db.SetMaxOpenConns(1)
	for i := range 2 * maxCachedStmts {
		var n int
		if err := s.db.QueryRowContext(ctx, fmt.Sprintf("SELECT %d", i)).Scan(&n); err != nil || n != i {
			t.Fatalf("SELECT %d = %d, %v", i, n, err)
		}
	}
	c, err := s.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c.Raw(func(dc any) error {
		if n := dc.(*conn).stmts.lru.Len(); n != maxCachedStmts {
			t.Errorf("%d statements cached, want %d", n, maxCachedStmts)
		}
		return nil
	})
	c.Close()

	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	const q = `SELECT value FROM (SELECT 1 AS value UNION ALL SELECT 2) ORDER BY value`
	outer, err := tx.QueryContext(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for outer.Next() {
		var v, inner int
		outer.Scan(&v)
		if err := tx.QueryRowContext(ctx, q).Scan(&inner); err != nil || inner != 1 {
			t.Fatalf("the same query inside its own rows = %d, %v", inner, err)
		}
		got = append(got, v)
	}
	if err := outer.Close(); err != nil || fmt.Sprint(got) != "[1 2]" {
		t.Fatalf("outer rows = %v, %v", got, err)
	}
}

// BenchmarkSessionLookup is the hot read of every signed-in request.
func BenchmarkSessionLookup(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(b.TempDir(), "vigil.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	if err := s.UpsertUser(ctx, store.User{ID: "u", Name: "u", Credential: auth.HashCredential("u", "pw"), CreatedAt: now}); err != nil {
		b.Fatal(err)
	}
	if err := s.CreateSession(ctx, store.Session{IDSHA256: "h", User: "u", Created: now, Expires: now.Add(time.Hour)}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.Session(ctx, "h", now); err != nil {
			b.Fatal(err)
		}
	}
}
