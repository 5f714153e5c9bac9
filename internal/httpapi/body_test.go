package httpapi

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestJSONBodyRefusals: a JSON body over its limit is refused as 413 with
// the limit in the text (before, the decoder's "request body too large"
// came back as a 400 "malformed JSON"); a malformed or mistyped one is a
// 400 or 415; one within the limit decodes.
func TestJSONBodyRefusals(t *testing.T) {
	const limit = 64
	for _, c := range []struct {
		name, ctype, body string
		code              int
		text              string
	}{
		{"within the limit", "application/json", `{"code":"abc"}`, 0, ""},
		{"over the limit", "application/json", `{"code":"` + strings.Repeat("a", 2*limit) + `"}`, 413, "larger than 64 bytes"},
		{"over the limit in whitespace", "application/json", strings.Repeat(" ", 1<<20) + `{}`, 413, "larger than 64 bytes"},
		{"malformed", "application/json", `{"code":`, 400, "malformed JSON body"},
		{"unknown field", "application/json", `{"cod":"x"}`, 400, "malformed JSON body"},
		{"not JSON", "text/plain", `{"code":"abc"}`, 415, "Content-Type: application/json"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/api/x", strings.NewReader(c.body))
			r.Header.Set("Content-Type", c.ctype)
			var v struct {
				Code string `json:"code"`
			}
			err := decodeJSON(httptest.NewRecorder(), r, &v, limit)
			if c.code == 0 {
				if err != nil || v.Code != "abc" {
					t.Fatalf("decoded %+v, %v", v, err)
				}
				return
			}
			var he *HTTPError
			if !errors.As(err, &he) || he.Code != c.code || !strings.Contains(he.Msg, c.text) {
				t.Fatalf("got %v (%+v), want %d with %q", err, he, c.code, c.text)
			}
			if ce := clientError(err); ce.Code != c.code {
				t.Errorf("the client is told %d, want %d", ce.Code, c.code)
			}
		})
	}
}
