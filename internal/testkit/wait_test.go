package testkit

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// fatalRecorder is a testing.TB whose Fatalf records its message and ends
// the calling goroutine, as a test's does.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// waitFor runs WaitFor on a recorder and returns what it failed with, if
// it did.
func waitFor(t *testing.T, timeout time.Duration, what string, check func() error) string {
	f := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() { defer close(done); WaitFor(f, timeout, what, check) }()
	<-done
	return f.msg
}

func TestWaitForReturnsOnceCheckPasses(t *testing.T) {
	calls := 0
	msg := waitFor(t, 5*time.Second, "third call", func() error {
		if calls++; calls < 3 {
			return fmt.Errorf("call %d", calls)
		}
		return nil
	})
	if msg != "" || calls != 3 {
		t.Fatalf("failed with %q after %d calls, want success at the third", msg, calls)
	}
}

// TestWaitForFailsNamingWhatAndLastSeen: at the timeout the test fails,
// and the message says what was awaited, the timeout, and the last error.
func TestWaitForFailsNamingWhatAndLastSeen(t *testing.T) {
	calls := 0
	start := time.Now()
	msg := waitFor(t, 150*time.Millisecond, "green light", func() error {
		calls++
		return fmt.Errorf("light is red (call %d)", calls)
	})
	took := time.Since(start)
	want := fmt.Sprintf("no green light within 150ms: light is red (call %d)", calls)
	if msg != want {
		t.Errorf("failed with %q, want %q", msg, want)
	}
	if took < 150*time.Millisecond || took > 2*time.Second {
		t.Errorf("gave up after %v, want just past 150ms", took)
	}
	if calls < 3 || calls > 40 {
		t.Errorf("%d checks in %v: the pause between them is off", calls, took)
	}
	if !strings.HasPrefix(msg, "no green light") {
		t.Errorf("message %q does not lead with what was awaited", msg)
	}
}
