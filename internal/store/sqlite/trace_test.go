package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func TestTraceStatementsSeesEveryStatement(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "vigil.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var seen []string
	s.TraceStatements(func(q string) { seen = append(seen, q) })
	if _, err := s.UserByName(ctx, "nobody"); err == nil {
		t.Fatal("found a user in an empty store")
	}
	s.TraceStatements(nil)
	if _, err := s.UserByName(ctx, "nobody"); err == nil {
		t.Fatal("found a user in an empty store")
	}
	if len(seen) != 1 || !strings.Contains(seen[0], "FROM users WHERE name") {
		t.Fatalf("traced %q, want the one user lookup made while tracing", seen)
	}
}
