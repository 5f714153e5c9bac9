package app

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// imports maps each package directory under internal/ and cmd/ to the
// imports of its non-test files, and records which files call a function.
func imports(t *testing.T, call string) (map[string][]string, []string) {
	t.Helper()
	root := "../.."
	deps := map[string][]string{}
	var callers []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, src, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		for _, imp := range f.Imports {
			deps[rel] = append(deps[rel], strings.Trim(imp.Path.Value, `"`))
		}
		if strings.Contains(string(src), call) {
			callers = append(callers, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return deps, callers
}

// TestImportsPointDown keeps protocol and media packages free of HTTP,
// SQL and storage, keeps app a root that nothing imports, and keeps the
// simulator and the browser driver out of server code.
func TestImportsPointDown(t *testing.T) {
	deps, _ := imports(t, "")
	forbidden := map[string][]string{
		"internal/media":  {"net/http", "database/sql", "vigil/internal/store", "vigil/internal/hub"},
		"internal/hub":    {"net/http", "database/sql", "vigil/internal/store", "vigil/internal/rtsp"},
		"internal/rtsp":   {"net/http", "database/sql", "vigil/internal/store"},
		"internal/ingest": {"net/http", "database/sql", "vigil/internal/store", "vigil/internal/rtsp"},
		"internal/access": {"net/http", "database/sql", "vigil/internal/store", "vigil/internal/auth"},
		"internal/fmp4":   {"net/http", "database/sql", "vigil/internal/store", "vigil/internal/auth"},
		"internal/hls":    {"database/sql", "vigil/internal/store", "vigil/internal/auth"},
		"internal/stills": {"net/http", "database/sql", "vigil/internal/store", "vigil/internal/auth"},
		"internal/webrtc": {"net/http", "database/sql", "vigil/internal/store", "vigil/internal/auth"},
	}
	for pkg, imps := range deps {
		for _, imp := range imps {
			if imp == "vigil/internal/app" && pkg != "cmd/vigil" {
				t.Errorf("%s imports internal/app: only main may", pkg)
			}
			// The canary is the viewer's side, like the simulator: it checks
			// stamps, and no server code may import either.
			viewerSide := pkg == "internal/sim" || pkg == "internal/canary"
			if (imp == "vigil/internal/sim" || imp == "vigil/internal/canary") && strings.HasPrefix(pkg, "internal/") && !viewerSide {
				t.Errorf("%s imports %s: server code never writes or checks stamps", pkg, imp)
			}
			if imp == "vigil/internal/chromium" && strings.HasPrefix(pkg, "internal/") {
				t.Errorf("%s imports internal/chromium: only tests and tools drive a browser (chromedp stays out of bin/vigil)", pkg)
			}
			for _, bad := range forbidden[pkg] {
				if imp == bad {
					t.Errorf("%s imports %s", pkg, bad)
				}
			}
		}
	}
}

// TestOnlyAppMakesAnIssuer: grants are minted by auth with the Issuer app
// hands it; no other package may make its own.
func TestOnlyAppMakesAnIssuer(t *testing.T) {
	_, callers := imports(t, "access.NewIssuer(")
	for _, c := range callers {
		if c != "internal/app" {
			t.Errorf("%s calls access.NewIssuer: only internal/app may", c)
		}
	}
	if len(callers) == 0 {
		t.Error("found no caller at all: the scan is broken")
	}
}
