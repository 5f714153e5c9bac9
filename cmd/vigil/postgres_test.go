package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"vigil/internal/datadir"
	"vigil/internal/store/postgres"
	"vigil/internal/testkit/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestAdminCommandsUsePostgres: with store: postgres, the user and device
// commands change the Postgres database the servers share, never a SQLite
// file beside them, and backup and restore (which copy the SQLite file)
// refuse, saying what to use instead.
func TestAdminCommandsUsePostgres(t *testing.T) {
	cfg := testConfig(t)
	dsn := pgtest.NewDatabase(t)
	cmd := func(out *bytes.Buffer) command {
		c := cmdFor(cfg, out)
		c.environ = append(c.environ, "VIGIL_STORE=postgres", "VIGIL_STORE_DSN="+dsn)
		return c
	}
	var out bytes.Buffer
	if err := runUser(t.Context(), cmd(&out), []string{"add", "--name", "olga"}); err != nil {
		t.Fatal(err)
	}
	if err := runDevice(t.Context(), cmd(&out), []string{"add", "--name", "porch"}); err != nil {
		t.Fatal(err)
	}
	st, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.UserByName(t.Context(), "olga"); err != nil {
		t.Errorf("the user added is not in Postgres: %v", err)
	}
	if devs, err := st.Devices(t.Context()); err != nil || len(devs) != 1 || devs[0].Name != "porch" {
		t.Errorf("devices in Postgres: %+v, %v", devs, err)
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, datadir.DBFile)); !os.IsNotExist(err) {
		t.Errorf("a SQLite file was made beside Postgres: %v", err)
	}
	for _, run := range []func() error{
		func() error { return runBackup(t.Context(), cmd(&out), []string{filepath.Join(t.TempDir(), "b.vbk")}) },
		func() error { return runRestore(t.Context(), cmd(&out), []string{filepath.Join(t.TempDir(), "b.vbk")}) },
	} {
		if err := run(); err == nil || !strings.Contains(err.Error(), "pg_dump") {
			t.Errorf("backup or restore of a Postgres store: %v, want a refusal naming pg_dump", err)
		}
	}
}
