package app

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"vigil/internal/config"
	"vigil/internal/testkit"
)

// TestShutdownDrainsHTTPBeforeTheStore holds Run to the order its comment
// states: when Run's context ends, HTTP stops accepting at once, but a
// request in flight is still answered — with the store, which closes only
// after HTTP has drained — and Run returns only then.
func TestShutdownDrainsHTTPBeforeTheStore(t *testing.T) {
	a := startApp(t, "", func(c *config.Config) { c.ShutdownTimeout = 20 * time.Second })
	body, rest := io.Pipe()
	req, _ := http.NewRequest("POST", a.url("/api/login"), body)
	req.Header.Set("Content-Type", "application/json")
	// With 100-continue the client sends the body only once the handler
	// reads it: the first write below returns when the request is in a
	// handler, in flight.
	req.Header.Set("Expect", "100-continue")
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Minute}}
	answered := make(chan *http.Response, 1)
	failed := make(chan error, 1)
	go func() {
		res, err := client.Do(req)
		if err != nil {
			failed <- err
			return
		}
		answered <- res
	}()
	if _, err := io.WriteString(rest, `{"name": "admin", `); err != nil {
		t.Fatal(err)
	}

	a.cancel()
	testkit.WaitFor(t, 10*time.Second, "HTTP to stop accepting", func() error {
		c, err := net.DialTimeout("tcp", a.HTTPAddr().String(), time.Second)
		if err != nil {
			return nil
		}
		c.Close()
		return errors.New("still accepting")
	})
	select {
	case err := <-a.done:
		t.Fatalf("Run returned (%v) with a request in flight", err)
	default:
	}

	io.WriteString(rest, `"password": "`+adminPassword+`"}`)
	rest.Close()
	select {
	case res := <-answered:
		msg, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.Contains(string(msg), "csrf") {
			t.Fatalf("the request in flight during shutdown: %d %s, want 200 (the store still open)", res.StatusCode, msg)
		}
	case err := <-failed:
		t.Fatalf("the request in flight during shutdown failed: %v", err)
	case <-time.After(15 * time.Second):
		t.Fatal("the request in flight was never answered")
	}
	select {
	case err := <-a.done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		a.done <- nil // for the cleanup's stop
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after its last request")
	}
}
