package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"vigil/internal/store"
	"vigil/internal/store/backend"
	"vigil/internal/store/postgres"
	"vigil/internal/testkit/pgtest"
	"vigil/internal/testkit/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestConformance runs the store conformance suite on Postgres.
func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Backend{
		New: func(t *testing.T) string { return pgtest.NewDatabase(t) },
		Open: func(ctx context.Context, dsn string, secrets store.Secrets) (backend.Store, error) {
			if secrets == nil {
				return postgres.Open(ctx, dsn)
			}
			return postgres.Open(ctx, dsn, postgres.WithSecrets(secrets))
		},
		Holds: holds,
	})
}

// holds reports whether any text or bytea column of any table holds s.
func holds(t *testing.T, dsn, s string) bool {
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT table_name, column_name, data_type FROM information_schema.columns
		WHERE table_schema = 'public' AND data_type IN ('text', 'bytea')`)
	if err != nil {
		t.Fatal(err)
	}
	type column struct{ Table, Name, Kind string }
	cols, err := pgx.CollectRows(rows, pgx.RowToStructByPos[column])
	if err != nil || len(cols) < 10 {
		t.Fatalf("%d columns (%v): the scan is broken", len(cols), err)
	}
	for _, c := range cols {
		col := pgx.Identifier{c.Name}.Sanitize()
		match := "strpos(" + col + ", $1) > 0"
		if c.Kind == "bytea" {
			match = "position(convert_to($1, 'UTF8') IN " + col + ") > 0"
		}
		var n int
		if err := conn.QueryRow(ctx, "SELECT COUNT(*) FROM "+pgx.Identifier{c.Table}.Sanitize()+" WHERE "+match, s).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return true
		}
	}
	return false
}
