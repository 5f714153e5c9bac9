package app

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSignInSessionsCSRFAndPasswordChange(t *testing.T) {
	a := startApp(t, "", nil)
	generated := a.addUser(t, "olga")
	post := func(path string, body any, prepare func(*http.Request)) *http.Response {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", a.url(path), bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		prepare(req)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	login := func(pw string) (*http.Cookie, string, int) { return a.login(t, "olga", pw) }
	cookie, csrf, code := login(generated)
	if code != 200 || cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || csrf == "" {
		t.Fatalf("login: %d %+v csrf %q", code, cookie, csrf)
	}
	withCookie := func(r *http.Request) { r.AddCookie(cookie) }
	get := func(prepare func(*http.Request)) int {
		req, _ := http.NewRequest("GET", a.url("/api/cameras"), nil)
		prepare(req)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if c := get(withCookie); c != 200 {
		t.Fatalf("GET with the session: %d", c)
	}
	// A state-changing request needs the CSRF token as well as the cookie.
	newPW := "a long chosen password"
	if res := post("/api/password", map[string]string{"current": generated, "new": newPW}, withCookie); res.StatusCode != 403 {
		t.Fatalf("password change without CSRF: %d", res.StatusCode)
	}
	withCSRF := func(r *http.Request) { r.AddCookie(cookie); r.Header.Set("X-CSRF-Token", csrf) }
	if res := post("/api/password", map[string]string{"current": generated, "new": "short"}, withCSRF); res.StatusCode != 400 {
		t.Fatalf("too short a password: %d", res.StatusCode)
	}
	other, _, _ := login(generated)
	if res := post("/api/password", map[string]string{"current": generated, "new": newPW}, withCSRF); res.StatusCode != 204 {
		t.Fatalf("password change: %d", res.StatusCode)
	}
	// The change ended every other session, not the one that made it; the
	// old password no longer works, the new one does.
	if c := get(withCookie); c != 200 {
		t.Fatalf("the session that changed the password: %d, want 200", c)
	}
	if c := get(func(r *http.Request) { r.AddCookie(other) }); c != 401 {
		t.Fatalf("another session after a password change: %d, want 401", c)
	}
	if _, _, code := login(generated); code != 401 {
		t.Fatalf("old password: %d", code)
	}
	cookie, csrf, code = login(newPW)
	if code != 200 {
		t.Fatalf("new password: %d", code)
	}
	withCSRF = func(r *http.Request) { r.AddCookie(cookie); r.Header.Set("X-CSRF-Token", csrf) }
	if res := post("/api/logout", nil, withCSRF); res.StatusCode != 204 {
		t.Fatalf("logout: %d", res.StatusCode)
	}
	if c := get(func(r *http.Request) { r.AddCookie(cookie) }); c != 401 {
		t.Fatalf("session after logout: %d", c)
	}
	// Guessing is throttled. Nine failures make the next attempt wait 8 s
	// (1 s after the sixth, doubling): longer than a loaded machine's
	// argon2 check between the last guess and this attempt.
	for range 9 {
		login("wrong guess!")
	}
	if _, _, code := login(newPW); code != 429 {
		t.Fatalf("sign-in after 9 failures: %d, want 429", code)
	}
	// Nothing on disk holds the password in clear.
	filepath.WalkDir(a.cfg.DataDir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, _ := os.ReadFile(path); bytes.Contains(b, []byte(newPW)) || strings.Contains(string(b), generated) {
				t.Errorf("%s holds a password in clear", path)
			}
		}
		return nil
	})
}
