package sqlite

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/store"
)

const churnChildEnv = "VIGIL_SQLITE_CHURN_CHILD"

// TestKillDuringChurnLeavesNothingHalfApplied kills a process in the middle
// of sign-ups, shares and device resets; every change it reported is there
// after, and none is half applied: a spent invitation always has its user,
// and a device without an owner has no shares.
func TestKillDuringChurnLeavesNothingHalfApplied(t *testing.T) {
	if path := os.Getenv(churnChildEnv); path != "" {
		churnChild(path)
		return
	}
	path := filepath.Join(t.TempDir(), "vigil.db")
	done := killAfter(t, "TestKillDuringChurnLeavesNothingHalfApplied", churnChildEnv, path, "step", 40)

	s := open(t, path)
	ctx := t.Context()
	for i := range done {
		if _, err := s.UserByName(ctx, fmt.Sprintf("user-%d", i)); err != nil {
			t.Fatalf("reported sign-up %d lost: %v", i, err)
		}
	}
	var spentWithoutUser int
	s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM invitations WHERE code_sha256 LIKE 'inv-%'`).Scan(&spentWithoutUser)
	var users int
	s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE name LIKE 'user-%'`).Scan(&users)
	var invitations = 1000
	if users+spentWithoutUser != invitations {
		t.Fatalf("%d users + %d unspent invitations != %d: a sign-up was half applied", users, spentWithoutUser, invitations)
	}
	var orphanShares int
	s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM shares JOIN devices ON devices.id = shares.device WHERE devices.owner = ''`).Scan(&orphanShares)
	if orphanShares != 0 {
		t.Fatalf("%d shares of devices without an owner: a reset was half applied", orphanShares)
	}
}

func churnChild(path string) {
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		os.Exit(1)
	}
	for i := range 1000 {
		s.CreateInvitation(ctx, fmt.Sprintf("inv-%d", i), "u-admin", time.Now().Add(time.Hour))
	}
	s.UpsertUser(ctx, store.User{ID: "u-owner", Name: "owner"})
	d := device("cam-churn", "churn")
	d.Owner = "u-owner"
	s.CreateDevice(ctx, d)
	for i := 0; ; i++ {
		u := store.User{ID: access.UserID(fmt.Sprintf("u-%d", i)), Name: fmt.Sprintf("user-%d", i)}
		if err := s.SignUp(ctx, u, "$argon2id$x", fmt.Sprintf("inv-%d", i), time.Now()); err != nil {
			os.Exit(3)
		}
		s.PutShare(ctx, store.Share{Device: "cam-churn", Viewer: u.ID})
		// Reset and re-own the device: its shares must go with the owner.
		s.ResetDevice(ctx, "cam-churn", fmt.Sprintf("claim-%d", i))
		s.ClaimDevice(ctx, fmt.Sprintf("claim-%d", i), "u-owner")
		s.PutShare(ctx, store.Share{Device: "cam-churn", Viewer: u.ID})
		os.Stdout.WriteString("step\n")
	}
}

// killAfter runs this test binary's test as a child process with env set
// to path, waits until the child has printed marker lines n times, kills
// it with SIGKILL and returns how many it saw (at least n, or the test
// fails). The child must still be running when killed: a crash test whose
// child exited on its own tests nothing.
func killAfter(t *testing.T, test, env, path, marker string, n int) int {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^"+test+"$")
	cmd.Env = append(os.Environ(), env+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(out)
	seen := 0
	for seen < n && lines.Scan() {
		if lines.Text() == marker {
			seen++
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	err = cmd.Wait()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v after %d %q lines, want killed by SIGKILL", err, seen, marker)
	}
	if seen < n {
		t.Fatalf("child printed only %d %q lines", seen, marker)
	}
	return seen
}
