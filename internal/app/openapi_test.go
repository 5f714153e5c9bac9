package app

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"vigil/internal/config"
)

// TestOpenAPIMatchesTheRoutes: every registered route is documented and
// every documented operation is registered.
func TestOpenAPIMatchesTheRoutes(t *testing.T) {
	a := startApp(t, "", func(c *config.Config) { c.Record = true })
	code, _, body := a.get(t, "/api/openapi.json", AdminName, adminPassword)
	if code != 200 {
		t.Fatalf("openapi: %d", code)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("not an OpenAPI 3 document: %v", err)
	}
	var documented []string
	for path, ops := range doc.Paths {
		for method := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	var routes []string
	for _, r := range a.router.Patterns() {
		routes = append(routes, strings.TrimSuffix(r, "{$}")) // "GET /{$}" is the page at "/"
	}
	for _, r := range routes {
		if !slices.Contains(documented, r) {
			t.Errorf("route %q is not in the OpenAPI document", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(routes, d) {
			t.Errorf("the OpenAPI document describes %q, which is not a route", d)
		}
	}
	if code, _, _ := a.get(t, "/api/openapi.json", "", ""); code != 401 {
		t.Fatalf("anonymous openapi: %d", code)
	}
}
