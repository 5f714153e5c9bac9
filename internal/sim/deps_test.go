package sim

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestServerDoesNotImportSim enforces invariant 7: no server package (any
// non-test file under internal/ outside this package and the canary)
// imports the stamp writer.
func TestServerDoesNotImportSim(t *testing.T) {
	root := filepath.Join("..")
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			// The canary checks stamps on the viewer's side, as tests do.
			if d.Name() == "sim" || d.Name() == "canary" || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return nil // someone else's half-written file; the build will say
		}
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == "vigil/internal/sim" {
				t.Errorf("%s imports vigil/internal/sim: server code must not write or check stamps", path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
