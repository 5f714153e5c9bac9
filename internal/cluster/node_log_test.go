package cluster

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// A dead peer's route is retried about once a second, each attempt an
// error from the embedded server: one line per peer per routeLogEvery
// reaches the log, with the count of those held back.
func TestRouteFailuresRateLimited(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out bytes.Buffer
		l := newNATSLog(slog.New(slog.NewTextHandler(&out, nil)))
		const format = "Error trying to connect to route (attempt %v): %v"
		dead := errors.New("dial tcp 127.0.0.1:4248: connect: connection refused")
		other := errors.New("dial tcp 127.0.0.1:4249: connect: connection refused")
		for attempt := 1; attempt <= 60; attempt++ {
			l.Errorf(format, attempt, dead)
			l.Errorf(format, attempt, other)
			time.Sleep(time.Second)
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		// 60 s of retries: each peer logged at 0 s and 30 s.
		if len(lines) != 4 {
			t.Fatalf("%d lines logged for 2 dead peers over 60 s, want 4:\n%s", len(lines), out.String())
		}
		for _, line := range lines {
			if !strings.Contains(line, "level=WARN") {
				t.Errorf("route failure not at WARN: %s", line)
			}
		}
		if !strings.Contains(lines[2], "suppressed=29") {
			t.Errorf("second line of a peer does not count the 29 held back: %s", lines[2])
		}
		out.Reset()
		l.Errorf("Some other error: %v", dead)
		l.Errorf("Some other error: %v", dead)
		if n := strings.Count(out.String(), "level=ERROR"); n != 2 {
			t.Errorf("other server errors: %d lines, want both at ERROR", n)
		}
	})
}
