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
