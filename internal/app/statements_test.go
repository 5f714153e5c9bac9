package app

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
)

// statements records the SQL a stretch of work sends to the store.
type statements struct {
	mu   sync.Mutex
	seen []string
}

func (a *testApp) traceStatements(t *testing.T) *statements {
	s := &statements{}
	a.store.TraceStatements(func(q string) {
		s.mu.Lock()
		s.seen = append(s.seen, strings.Join(strings.Fields(q), " "))
		s.mu.Unlock()
	})
	t.Cleanup(func() { a.store.TraceStatements(nil) })
	return s
}

// take returns what was seen since the last take.
func (s *statements) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.seen
	s.seen = nil
	return out
}

// repeats lists the statements that ran more than once.
func repeats(qs []string) []string {
	n := map[string]int{}
	var out []string
	for _, q := range qs {
		if n[q]++; n[q] == 2 {
			out = append(out, q)
		}
	}
	return out
}

// TestRequestStatementsDoNotRepeat holds the two commonest requests to the
// SQL they need: a viewer is loaded once at the edge and travels with the
// request, so no statement runs twice before the first byte.
func TestRequestStatementsDoNotRepeat(t *testing.T) {
	a := startApp(t, "", nil)
	pw := a.addUser(t, "olga")
	cam := a.addCamera(t, "porch")
	claimFor(t, a, cam, "olga")
	a.runClaimed(t, cam)
	signedIn := a.session(t, "olga", pw)
	trace := a.traceStatements(t)

	req, _ := http.NewRequest("GET", a.url("/api/cameras/"+cam.ID+"/live.mp4"), nil)
	signedIn(req)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, 1)
	_, err = res.Body.Read(first)
	res.Body.Close()
	qs := trace.take()
	if res.StatusCode != 200 || err != nil {
		t.Fatalf("live.mp4: %d %v", res.StatusCode, err)
	}
	t.Logf("GET live.mp4 with a session: %d statements", len(qs))
	if r := repeats(qs); len(r) > 0 {
		t.Errorf("GET live.mp4 repeats %d statements:\n%s\nall:\n%s", len(r), strings.Join(r, "\n"), strings.Join(qs, "\n"))
	}

	u, _ := base.ParseURL(a.rtspURL("olga", pw, cam.ID))
	c := gortsplib.Client{Scheme: u.Scheme, Host: u.Host}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	trace.take()
	if _, _, err := c.Describe(u); err != nil {
		t.Fatal(err)
	}
	qs = trace.take()
	t.Logf("RTSP DESCRIBE with Digest: %d statements", len(qs))
	if r := repeats(qs); len(r) > 0 {
		t.Errorf("RTSP DESCRIBE repeats %d statements:\n%s\nall:\n%s", len(r), strings.Join(r, "\n"), strings.Join(qs, "\n"))
	}
}
