// Package pgtest gives tests a throwaway Postgres: a server of Debian's
// binaries (postgresql-15, which make test installs) started on first use
// in a temporary directory, listening on a Unix socket only, with fsync
// off, and a new empty database for each caller. TestMain must call Main
// so that the server stops with the test binary.
//
// VIGIL_TEST_POSTGRES, a DSN of a server where new databases may be
// created, is used instead when set (for example under pg_virtualenv:
// VIGIL_TEST_POSTGRES="host=$PGHOST port=$PGPORT user=$PGUSER password=$PGPASSWORD dbname=postgres").
//
// Go modules that download Postgres cannot work here, and initdb refuses
// to run as root: as root the server runs as the postgres user (or nobody).
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"vigil/internal/pgproc"
)

// EnvDSN names an existing server to use instead of starting one.
const EnvDSN = "VIGIL_TEST_POSTGRES"

var (
	mu     sync.Mutex
	server *pgproc.Server // started on first use, stopped by Main
	admin  string         // DSN of the server's postgres database
)

// Main runs the tests and stops the server if one was started.
func Main(m *testing.M) {
	code := m.Run()
	mu.Lock()
	if server != nil {
		server.Stop()
	}
	mu.Unlock()
	os.Exit(code)
}

// NewDatabase returns the DSN of a new, empty database, starting the
// server if this is the first call. A test that cannot have one fails:
// a store test that skipped would count an unchecked store as passing.
func NewDatabase(t testing.TB) string {
	t.Helper()
	dsn, err := adminDSN()
	if err != nil {
		t.Fatalf("no Postgres for the tests: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to the test Postgres: %v", err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 8)
	rand.Read(b)
	name := "vigil_test_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name+" STRATEGY FILE_COPY"); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if conn, err := pgx.Connect(ctx, dsn); err == nil {
			conn.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)")
			conn.Close(ctx)
		}
	})
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	out := fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable", cfg.Host, cfg.Port, cfg.User, name)
	if cfg.Password != "" {
		out += " password='" + strings.NewReplacer(`\`, `\\`, "'", `\'`).Replace(cfg.Password) + "'"
	}
	return out
}

func adminDSN() (string, error) {
	if dsn := os.Getenv(EnvDSN); dsn != "" {
		return dsn, nil
	}
	mu.Lock()
	defer mu.Unlock()
	if server == nil {
		s, err := pgproc.Start()
		if err != nil {
			return "", err
		}
		server, admin = s, s.DSN("postgres")
	}
	return admin, nil
}
