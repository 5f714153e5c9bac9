package app

import (
	"os/exec"
	"strings"
	"testing"
)

// layers says what each group of packages may never reach, directly or
// through anything it imports (`go list -deps`): a rule checked on direct
// imports alone is passed by one package in between.
var layers = []struct {
	why      string
	packages []string // import paths; a trailing /... covers the subtree
	never    []string
}{
	{
		why: "protocol and media packages know nothing of users, storage, configuration or the routes",
		packages: []string{"vigil/internal/access", "vigil/internal/media/...", "vigil/internal/hub",
			"vigil/internal/fmp4", "vigil/internal/hls", "vigil/internal/stills", "vigil/internal/webrtc",
			"vigil/internal/ingest", "vigil/internal/seal"},
		never: []string{"database/sql", "vigil/internal/store/...", "vigil/internal/auth", "vigil/internal/httpapi",
			"vigil/internal/oauth", "vigil/internal/config"},
	},
	{
		why: "recordings keep media in blobs and rows through the Index record declares (store/sqlite and store/postgres implement it); " +
			"they know no SQL, routes, users or configuration",
		packages: []string{"vigil/internal/record", "vigil/internal/blob/..."},
		never: []string{"database/sql", "vigil/internal/store/...", "vigil/internal/auth", "vigil/internal/httpapi",
			"vigil/internal/oauth", "vigil/internal/config"},
	},
	{
		why: "the cluster moves sealed units and camera claims over NATS; epoch secrets come through the " +
			"EpochSource it declares, so it knows no SQL, storage, users, routes or configuration",
		packages: []string{"vigil/internal/cluster"},
		never: []string{"database/sql", "vigil/internal/store/...", "vigil/internal/auth", "vigil/internal/httpapi",
			"vigil/internal/oauth", "vigil/internal/config"},
	},
	{
		why:      "the RTSP server authenticates through auth's credentials and tokens but knows no storage",
		packages: []string{"vigil/internal/rtsp"},
		never: []string{"database/sql", "vigil/internal/store/...", "vigil/internal/httpapi",
			"vigil/internal/oauth", "vigil/internal/config"},
	},
	{
		why: "every output records viewing sessions through audit, so audit writes through the Store it declares " +
			"(store/sqlite implements it) and knows no storage, HTTP or configuration",
		packages: []string{"vigil/internal/audit"},
		never: []string{"database/sql", "vigil/internal/store/...", "net/http", "vigil/internal/config",
			"vigil/internal/auth", "vigil/internal/httpapi"},
	},
	{
		why:      "value types and the hub speak no HTTP (prometheus brings net/http to the outputs, which count with it)",
		packages: []string{"vigil/internal/access", "vigil/internal/media/..."},
		never:    []string{"net/http"},
	},
	{
		why:      "auth decides who is who from what the store says; it does not know HTTP or SQL",
		packages: []string{"vigil/internal/auth", "vigil/internal/access"},
		never:    []string{"net/http", "database/sql", "vigil/internal/store/..."},
	},
	{
		why:      "household reads the store's facts for auth's rule; it speaks no HTTP or SQL and knows no media",
		packages: []string{"vigil/internal/household"},
		never: []string{"net/http", "database/sql", "vigil/internal/store/sqlite", "vigil/internal/httpapi",
			"vigil/internal/hub", "vigil/internal/oauth"},
	},
	{
		why:      "server code never writes or checks stamps, and never drives a browser",
		packages: []string{"vigil/internal/..."},
		never:    []string{"vigil/internal/sim", "vigil/internal/canary", "vigil/internal/chromium"},
	},
	{
		why:      "the binary runs simulated cameras (vigil sim) but carries no canary or browser driver",
		packages: []string{"vigil/cmd/vigil"},
		never:    []string{"vigil/internal/canary", "vigil/internal/chromium"},
	},
	{
		why:      "the Pebble harness runs external programs for tests; no server code or binary links it",
		packages: []string{"vigil/internal/...", "vigil/cmd/..."},
		never:    []string{"vigil/internal/certs/pebbletest"},
	},
	{
		why:      "the throwaway Postgres runner is for the tests and the bench; the binary never links it",
		packages: []string{"vigil/cmd/vigil"},
		never:    []string{"vigil/internal/pgproc"},
	},
	{
		why:      "the Alexa Lambda only forwards: it links none of the server (its media, users or storage)",
		packages: []string{"vigil/cmd/vigil-alexa-lambda"},
		never:    []string{"vigil/internal/..."},
	},
	{
		why:      "nothing but main imports the composition root",
		packages: []string{"vigil/internal/..."},
		never:    []string{"vigil/internal/app"},
	},
}

// exempt are the viewer-side tools: the simulator and the canary check
// stamps, the canary drives a browser, and the test kit feeds hubs from
// simulated cameras.
var exempt = map[string]bool{
	"vigil/internal/sim": true, "vigil/internal/canary": true, "vigil/internal/chromium": true,
	"vigil/internal/testkit/simcam": true,
}

// kitTree is the test kit: only tests may import it.
const kitTree = "vigil/internal/testkit/..."

// TestLayers holds every package of the module to the layers table,
// transitively.
func TestLayers(t *testing.T) {
	deps := moduleDeps(t)
	if len(deps) < 20 {
		t.Fatalf("go list found %d packages: the scan is broken", len(deps))
	}
	for _, l := range layers {
		for pkg, reach := range deps {
			if !matchAny(l.packages, pkg) || exempt[pkg] {
				continue
			}
			for _, d := range reach {
				if matchAny(l.never, d) && d != pkg {
					t.Errorf("%s reaches %s: %s", pkg, d, l.why)
				}
			}
		}
	}
}

// TestOnlyTestsReachTestkit: no package's non-test files reach the test
// kit, directly or through another package; the viewer-side tools, exempt
// from the layers, included.
func TestOnlyTestsReachTestkit(t *testing.T) {
	kit := []string{kitTree}
	deps := moduleDeps(t)
	if _, ok := deps["vigil/internal/testkit/simcam"]; !ok {
		t.Fatal("go list does not list the test kit: the scan is broken")
	}
	for pkg, reach := range deps {
		if matchAny(kit, pkg) {
			continue
		}
		for _, d := range reach {
			if matchAny(kit, d) {
				t.Errorf("%s reaches %s: only _test.go files may import the test kit", pkg, d)
			}
		}
	}
}

// moduleDeps maps each package of the module (tests left out) to every
// package it reaches.
func moduleDeps(t *testing.T) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}{{range .Deps}} {{.}}{{end}}", "vigil/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := map[string][]string{}
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) > 0 {
			deps[f[0]] = f[1:]
		}
	}
	return deps
}

func matchAny(patterns []string, pkg string) bool {
	for _, p := range patterns {
		if root, ok := strings.CutSuffix(p, "/..."); ok {
			if pkg == root || strings.HasPrefix(pkg, root+"/") {
				return true
			}
		} else if pkg == p {
			return true
		}
	}
	return false
}
