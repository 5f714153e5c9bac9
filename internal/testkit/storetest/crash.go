package storetest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/store"
)

// childEnv makes the test binary act as the child of a crash test: the
// subtest that -test.run names opens the store this variable holds.
const childEnv = "VIGIL_STORETEST_CHILD"

// testSurvivesKill writes a device in a child process, kills the child with
// SIGKILL as soon as CreateDevice has returned, and expects the device to
// be there: a write that returned is durable (SQLite: synchronous=FULL).
func testSurvivesKill(t *testing.T, b Backend) {
	if where := os.Getenv(childEnv); where != "" {
		crashChild(b, where)
		return
	}
	where := b.New(t)
	killAfter(t, where, "written", 1)

	s := b.openAt(t, where, nil)
	d, err := s.Device(t.Context(), "cam-crash")
	if err != nil || d.Name != "written before kill" {
		t.Fatalf("Device after kill = %+v, %v", d, err)
	}
}

func crashChild(b Backend, where string) {
	ctx := context.Background()
	s, err := b.Open(ctx, where, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	d := device("cam-crash", "written before kill")
	if err := s.CreateDevice(ctx, d); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Stdout.WriteString("written\n")
	time.Sleep(time.Minute) // killed here, with the store still open
	os.Exit(2)
}

// invitations is how many invitations the churn child makes.
const invitations = 1000

// testKillDuringChurn kills a process in the middle of sign-ups, shares and
// device resets; every change it reported is there after, and none is half
// applied: a spent invitation always has its user, and a device without an
// owner has no shares.
func testKillDuringChurn(t *testing.T, b Backend) {
	if where := os.Getenv(childEnv); where != "" {
		churnChild(b, where)
		return
	}
	where := b.New(t)
	done := killAfter(t, where, "step", 40)

	s := b.openAt(t, where, nil)
	ctx := t.Context()
	for i := range invitations {
		_, err := s.UserByName(ctx, fmt.Sprintf("user-%d", i))
		signedUp := found(t, err)
		unspent := found(t, s.Invitation(ctx, fmt.Sprintf("inv-%d", i), time.Now()))
		if i < done && !signedUp {
			t.Fatalf("reported sign-up %d lost: %v", i, err)
		}
		if signedUp == unspent {
			t.Fatalf("sign-up %d: user %v, invitation unspent %v: a sign-up was half applied", i, signedUp, unspent)
		}
	}
	devs, err := s.Devices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range devs {
		shares, err := s.SharesOfDevice(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d.Owner == "" && len(shares) != 0 {
			t.Fatalf("%d shares of %s, which has no owner: a reset was half applied", len(shares), d.ID)
		}
	}
}

// found reports whether err says the thing is there, and fails the test
// on errors other than store.ErrNotFound.
func found(t *testing.T, err error) bool {
	t.Helper()
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

func churnChild(b Backend, where string) {
	ctx := context.Background()
	s, err := b.Open(ctx, where, nil)
	if err != nil {
		os.Exit(1)
	}
	for i := range invitations {
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

// killAfter runs this test binary's current test as a child process with
// childEnv set to where, waits until the child has printed marker lines n
// times, kills it with SIGKILL and returns how many it saw (at least n, or
// the test fails). The child must still be running when killed: a crash
// test whose child exited on its own tests nothing.
func killAfter(t *testing.T, where, marker string, n int) int {
	t.Helper()
	var run []string
	for _, part := range strings.Split(t.Name(), "/") {
		run = append(run, "^"+part+"$")
	}
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run="+strings.Join(run, "/"))
	cmd.Env = append(os.Environ(), childEnv+"="+where)
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
