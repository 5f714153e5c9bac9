package canary

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"vigil/internal/mutant"
	"vigil/internal/testkit/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// builds compiles each kind of vigil binary once per test run.
type builds struct {
	mu   sync.Mutex
	dir  string
	bins map[[2]bool]string
}

func (b *builds) get(t *testing.T, race, mutants bool) string {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if bin := b.bins[[2]bool{race, mutants}]; bin != "" {
		return bin
	}
	bin, err := Build(context.Background(), "../..", b.dir, race, mutants)
	if err != nil {
		t.Fatal(err)
	}
	b.bins[[2]bool{race, mutants}] = bin
	return bin
}

func newBuilds(t *testing.T) *builds {
	return &builds{dir: t.TempDir(), bins: map[[2]bool]string{}}
}

// TestCanary is the short form of `make canary`: a race-detector Vigil
// under every fault kind while the world moves (handovers, re-shares,
// password changes, API tokens deleted), every output opened, zero
// violations; and the
// seeds of testdata/regressions.txt, among them planted bugs that must be
// caught.
func TestCanary(t *testing.T) {
	if testing.Short() {
		t.Skip("the canary takes a minute")
	}
	b := newBuilds(t)
	t.Run("short", func(t *testing.T) {
		t.Parallel()
		rep := run(t, Config{Bin: b.get(t, true, false), Cameras: 10, Users: 6, Viewers: 10,
			Duration: 40 * time.Second, Cycle: 40 * time.Second, FPS: 10, Seed: 1})
		t.Logf("\n%s", rep.Markdown())
		if !rep.Passed() {
			t.Fatalf("violations: %v", rep.Violations)
		}
		checkCoverage(t, rep)
	})
	t.Run("cluster", func(t *testing.T) {
		t.Parallel()
		testCluster(t, b)
	})
	for _, r := range regressions(t) {
		t.Run("regression/"+r.name(), func(t *testing.T) {
			t.Parallel()
			replay(t, b, r)
		})
	}
}

// testCluster is the short form of the canary's cluster mode: three nodes
// on one Postgres (the test's; it fails without one, never skips), cameras
// and viewers spread over them at random, the world moving through random
// nodes, a node killed and restarted and the NATS routes cut while it
// runs: zero violations.
func testCluster(t *testing.T, b *builds) {
	dsn := pgtest.NewDatabase(t)
	// Two rounds: a second route cut finds the routes the first one's
	// reconnects made, gossip's among them.
	rep := run(t, Config{Bin: b.get(t, false, false), Nodes: 3, Postgres: dsn, Cameras: 9, Users: 6, Viewers: 9,
		Duration: 40 * time.Second, Cycle: 20 * time.Second, FPS: 10, Seed: 1})
	t.Logf("\n%s", rep.Markdown())
	if !rep.Passed() {
		t.Fatalf("violations: %v", rep.Violations)
	}
	for _, k := range []string{FaultNodeKill, FaultRouteCut, FaultLinger, FaultCameraDrop, MoveHandover} {
		if rep.Faults[k] == 0 {
			t.Errorf("fault or move %q never made", k)
		}
	}
	if n := rep.Faults[FaultRouteBypass]; n > 0 {
		t.Errorf("%d route connections bypassed the cut's proxies", n)
	}
	for _, o := range rep.Outputs {
		if o.Name == OutRTSP && o.Frames == 0 || o.Name == OutStill && o.Stills == 0 {
			t.Errorf("output %s checked nothing: %+v", o.Name, o)
		}
	}
}

// checkCoverage wants every output to have checked something and every
// fault kind to have been injected.
func checkCoverage(t *testing.T, rep *Report) {
	t.Helper()
	for _, o := range rep.Outputs {
		if !covered(o.Name, o.Frames+o.Stills, o.Refusals) {
			t.Errorf("output %s checked nothing: %+v", o.Name, o)
		}
	}
	if _, _, refusals := rep.Totals(); refusals == 0 {
		t.Error("no attack was refused: no attack was made")
	}
	for _, k := range []string{FaultLatency, FaultBandwidth, FaultSlicer, FaultStall, FaultReset, FaultCameraDrop,
		FaultCancel, FaultCameraRestart, FaultVigilRestart, "camera " + FaultLatency, "camera " + FaultSlicer,
		MoveHandover, MovePassword, MoveTokenDeleted, MoveFirstLook, MoveTimedShare} {
		if rep.Faults[k] == 0 {
			t.Errorf("fault or move %q never made", k)
		}
	}
	if rep.Faults[MoveReshare]+rep.Faults[MoveShare] == 0 {
		t.Error("no share was granted while the load ran")
	}
	var audio int64
	for _, o := range rep.Outputs {
		audio += o.Audio
	}
	if audio == 0 {
		t.Error("no audio received")
	}
}

// TestCanaryAllMutants runs every planted bug; it is long, so it runs only
// with VIGIL_CANARY_FULL=1 (`make canary` runs the same through vigilcanary).
func TestCanaryAllMutants(t *testing.T) {
	if os.Getenv("VIGIL_CANARY_FULL") == "" {
		t.Skip("set VIGIL_CANARY_FULL=1 (or run `make canary`)")
	}
	b := newBuilds(t)
	for i, n := range mutant.Names() {
		t.Run(string(n), func(t *testing.T) {
			r := regression{seed: int64(100 + i), cameras: 20, users: 10, mutant: string(n)}
			if mutant.Cluster(n) {
				r.nodes, r.postgres = 3, pgtest.NewDatabase(t)
			}
			replay(t, b, r)
		})
	}
}

// regression is one line of testdata/regressions.txt.
type regression struct {
	seed           int64
	cameras, users int
	mutant         string // "" for a clean build
	nodes          int    // a cluster's nodes, 0 for one
	postgres       string // a cluster's database
}

func (r regression) name() string {
	if r.mutant == "" {
		return "seed-" + strconv.FormatInt(r.seed, 10)
	}
	return r.mutant + "-seed-" + strconv.FormatInt(r.seed, 10)
}

func regressions(t *testing.T) []regression {
	t.Helper()
	f, err := os.Open("testdata/regressions.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []regression
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) == 0 || strings.HasPrefix(fs[0], "#") {
			continue
		}
		if len(fs) != 4 {
			t.Fatalf("regressions.txt: %q: want seed cameras users mutant", sc.Text())
		}
		var r regression
		var err1, err2, err3 error
		r.seed, err1 = strconv.ParseInt(fs[0], 10, 64)
		r.cameras, err2 = strconv.Atoi(fs[1])
		r.users, err3 = strconv.Atoi(fs[2])
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatalf("regressions.txt: %q: numbers expected", sc.Text())
		}
		if fs[3] != "-" {
			r.mutant = fs[3]
		}
		out = append(out, r)
	}
	return out
}

// replay runs a regression: a clean seed must pass, a planted bug must be
// caught within a minute.
func replay(t *testing.T, b *builds, r regression) {
	cfg := Config{Cameras: r.cameras, Users: r.users, Seed: r.seed, FPS: 10, Duration: 40 * time.Second, Cycle: 30 * time.Second,
		Nodes: r.nodes, Postgres: r.postgres}
	if r.mutant == "" {
		cfg.Bin = b.get(t, true, false)
		if rep := run(t, cfg); !rep.Passed() {
			t.Fatalf("seed %d fails again: %v\n%s", r.seed, rep.Violations, rep.Markdown())
		}
		return
	}
	cfg.Bin, cfg.Mutant, cfg.StopOnViolation, cfg.Duration = b.get(t, false, true), r.mutant, true, time.Minute
	rep := run(t, cfg)
	if rep.Passed() {
		t.Fatalf("planted bug %s not caught in %s\n%s", r.mutant, rep.Duration, rep.Markdown())
	}
	t.Logf("%s caught after %s: %s", r.mutant, rep.Detected.Round(time.Millisecond), rep.First[0])
}

func run(t *testing.T, cfg Config) *Report {
	t.Helper()
	cfg.Dir = filepath.Join(t.TempDir(), "canary")
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}
