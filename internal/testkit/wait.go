package testkit

import (
	"testing"
	"time"
)

// WaitFor calls check until it returns nil and fails the test if it has
// not by timeout. The failure names what was awaited and check's last
// error, which should say what it saw. Between calls it sleeps 5 ms at
// first, doubling to at most 100 ms, so quick waits end quickly and slow
// checks (HTTP, metrics) are not hammered.
func WaitFor(t testing.TB, timeout time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for pause := 5 * time.Millisecond; ; pause = min(2*pause, 100*time.Millisecond) {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v: %v", what, timeout, err)
		}
		time.Sleep(pause)
	}
}
