package app

import (
	"net/http"
	"strings"
	"testing"
)

// TestJSONEndpointsRequireJSON: a JSON endpoint answers 415 to a body that
// is not declared application/json — what a cross-site form or text/plain
// fetch sends without a preflight — and changes nothing: no session is
// started (login CSRF), no password changed, no account made.
func TestJSONEndpointsRequireJSON(t *testing.T) {
	a := startApp(t, "", nil)
	cam := a.addCamera(t, "porch")
	pw := a.addUser(t, "olga")
	claimFor(t, a, cam, "olga")
	a.addUser(t, "vera")
	sess := a.session(t, "olga", pw)
	post := func(method, path, ctype, body string, prepare func(*http.Request)) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, a.url(path), strings.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		prepare(req)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	none := func(*http.Request) {}
	cases := []struct {
		method, path, body string
		as                 func(*http.Request)
	}{
		{"POST", "/api/login", `{"name":"olga","password":"` + pw + `"}`, none},
		{"POST", "/api/signup", `{"name":"mallory","password":"a long enough passphrase","invitation":"x"}`, none},
		{"POST", "/api/password", `{"current":"` + pw + `","new":"a long enough passphrase"}`, sess},
		{"POST", "/api/tokens", `{"name":"nvr"}`, sess},
		{"POST", "/api/cameras/" + cam.ID + "/tokens", `{"stream":"main"}`, sess},
		{"PUT", "/api/cameras/" + cam.ID + "/shares/vera", `{}`, sess},
		{"POST", "/api/cameras/claim", `{"code":"x"}`, sess},
	}
	for _, ctype := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""} {
		for _, c := range cases {
			res := post(c.method, c.path, ctype, c.body, c.as)
			if res.StatusCode != http.StatusUnsupportedMediaType {
				t.Errorf("%s %s as %q: %d, want 415", c.method, c.path, ctype, res.StatusCode)
			}
			if len(res.Cookies()) != 0 {
				t.Errorf("%s %s as %q set a cookie", c.method, c.path, ctype)
			}
		}
	}
	// Nothing changed: the password is the old one, no share was made.
	if _, _, code := a.login(t, "olga", pw); code != 200 {
		t.Fatalf("the password after refused changes: login %d", code)
	}
	if code, _, _ := a.get(t, "/api/cameras/"+cam.ID+"/still.jpg", "vera", ""); code == 200 {
		t.Fatal("vera got a share from a refused request")
	}
	// Declared JSON (with a charset) works.
	if res := post("POST", "/api/login", "application/json; charset=utf-8", cases[0].body, none); res.StatusCode != 200 {
		t.Fatalf("login as application/json; charset=utf-8: %d", res.StatusCode)
	}
}
