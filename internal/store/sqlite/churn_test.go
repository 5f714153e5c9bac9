package sqlite

import (
	"bufio"
	"context"
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
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestKillDuringChurnLeavesNothingHalfApplied$")
	cmd.Env = append(os.Environ(), churnChildEnv+"="+path)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(out)
	done := 0
	for lines.Scan() {
		if lines.Text() == "step" {
			done++
		}
		if done == 40 {
			break
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if done < 40 {
		t.Fatalf("child made only %d steps", done)
	}

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
