package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"vigil/internal/canary"
	"vigil/internal/mutant"
)

// results are the runs of one invocation.
type results struct {
	nodes              int
	clean              *canary.Report
	mutants            []mutantResult
	mutCameras, mutUse int // size of each mutant run
}

type mutantResult struct {
	name   string
	report *canary.Report
	err    error
}

func (r results) ok() bool {
	if r.clean != nil && !r.clean.Passed() {
		return false
	}
	for _, m := range r.mutants {
		if m.err != nil || m.report.Passed() {
			return false
		}
	}
	return true
}

// runAll runs the clean canary and the mutant runs asked for.
func runAll(ctx context.Context, o options, dir string, log *slog.Logger, stdout io.Writer) (results, error) {
	res := results{nodes: o.nodes}
	var names []mutant.Name
	switch o.mutant {
	case "":
	case "all":
		// Each mode plants the bugs it can show: the cluster's live
		// where nodes meet.
		for _, n := range mutant.Names() {
			if mutant.Cluster(n) == (o.nodes > 1) {
				names = append(names, n)
			}
		}
	default:
		names = []mutant.Name{mutant.Name(o.mutant)}
	}
	if o.mutant == "" || o.mutant == "all" && !o.mutantsOnly {
		bin, err := canary.Build(ctx, o.src, dir, o.race, false)
		if err != nil {
			return res, err
		}
		cfg := canary.Config{Bin: bin, Dir: filepath.Join(dir, "clean"), Nodes: o.nodes, Postgres: o.postgres, Cameras: o.cameras, Users: o.users,
			Viewers: o.viewers, Duration: o.duration, Cycle: o.cycle, Seed: o.seed, FPS: o.fps, Logger: log}
		if res.clean, err = canary.Run(ctx, cfg); err != nil {
			return res, err
		}
		fmt.Fprintf(stdout, "## Clean run\n\n%s\n", res.clean.Markdown())
		if !res.clean.Passed() {
			// A failing seed becomes a regression test.
			fmt.Fprintf(stdout, "Add this line to internal/canary/testdata/regressions.txt once the bug is fixed:\n%d %d %d -\n\n",
				res.clean.Seed, o.cameras, o.users)
		}
	}
	if len(names) == 0 {
		return res, nil
	}
	bin, err := canary.Build(ctx, o.src, dir, false, true)
	if err != nil {
		return res, err
	}
	res.mutCameras, res.mutUse = o.mutCameras, o.mutUsers
	for i, n := range names {
		cfg := canary.Config{Bin: bin, Dir: filepath.Join(dir, string(n)), Nodes: o.nodes, Postgres: o.postgres, Cameras: o.mutCameras, Users: o.mutUsers,
			Duration: o.mutLimit, Cycle: 30 * time.Second, Seed: o.seed + int64(i) + 1, FPS: o.fps, Mutant: string(n),
			StopOnViolation: true, Linger: 10 * time.Second, Logger: log}
		rep, err := canary.Run(ctx, cfg)
		res.mutants = append(res.mutants, mutantResult{name: string(n), report: rep, err: err})
		fmt.Fprintf(stdout, "%s\n", res.mutants[len(res.mutants)-1].line())
	}
	return res, nil
}

func (m mutantResult) line() string {
	switch {
	case m.err != nil:
		return fmt.Sprintf("| %s | run failed: %v | | | |", m.name, m.err)
	case m.report.Passed():
		return fmt.Sprintf("| %s | **NOT CAUGHT** in %s (seed %d) | | | |", m.name, m.report.Duration.Round(time.Second), m.report.Seed)
	}
	first := m.report.First[0]
	return fmt.Sprintf("| %s | caught after %.1f s (seed %d) | %s | %s | %s |", m.name, m.report.Detected.Seconds(),
		m.report.Seed, first.Kind, viewerSide(m.report), strings.ReplaceAll(truncate(first.String(), 300), "|", "/"))
}

// viewerSide sums what reached viewers in the 10 s after detection:
// violations of every kind but the server's own count at egress.
func viewerSide(r *canary.Report) string {
	var parts []string
	for k, n := range r.Violations {
		if k != canary.KindServer {
			parts = append(parts, fmt.Sprintf("%s %d", k, n))
		}
	}
	if len(parts) == 0 {
		return "none (withheld at egress: " + fmt.Sprint(r.Violations[canary.KindServer]) + " objects)"
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// parts renders the report as named parts of the canary section: a part
// not run this time keeps what an earlier run wrote.
func (r results) parts() map[string]string {
	parts := map[string]string{}
	day := time.Now().UTC().Format("2006-01-02")
	clean, mutants, where := "clean", "mutants", ""
	if r.nodes > 1 {
		// The cluster's parts are its own: a cluster run keeps the
		// single node's figures, and the other way round.
		clean, mutants, where = "cluster", "cluster-mutants", fmt.Sprintf(" on a cluster of %d nodes", r.nodes)
	}
	if r.clean != nil {
		parts[clean] = fmt.Sprintf("### Clean run%s (measured %s)\n\n%s", where, day, r.clean.Markdown())
	}
	if len(r.mutants) > 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "### Planted bugs%s (`-tags canarymutant`, one per run of %d cameras and %d users; measured %s)\n\n",
			where, r.mutCameras, r.mutUse, day)
		b.WriteString("| mutant | verdict | caught as | reached viewers (run on 10 s after detection) | first violation |\n|---|---|---|---|---|\n")
		for _, m := range r.mutants {
			b.WriteString(m.line() + "\n")
		}
		parts[mutants] = b.String()
	}
	return parts
}

// Markers delimit the canary section of BENCHMARKS.md and its parts.
const (
	beginMarker = "<!-- canary:begin -->"
	endMarker   = "<!-- canary:end -->"
)

// sectionHeader opens the canary section.
const sectionHeader = "## Leak canary (`make canary`)\n\n" +
	"On this machine (2 cores shared with other work). A time to detection counts from the start of the load.\n\n"

// writeSection rewrites the canary section of path (or appends one) with
// parts, keeping the parts of the old section that parts does not have.
func writeSection(path string, parts map[string]string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	s := string(old)
	i, j := strings.Index(s, beginMarker), strings.Index(s, endMarker)
	var before, after, section string
	if i >= 0 && j > i {
		before, section, after = s[:i], s[i:j], s[j+len(endMarker):]
	} else {
		before, after = strings.TrimRight(s, "\n")+"\n\n", "\n"
	}
	var b strings.Builder
	b.WriteString(beginMarker + "\n" + sectionHeader)
	for _, name := range []string{"clean", "mutants", "cluster", "cluster-mutants"} {
		open, end := "<!-- canary:"+name+" -->\n", "<!-- /canary:"+name+" -->\n"
		var prev string
		if k, l := strings.Index(section, open), strings.Index(section, end); k >= 0 && l > k {
			prev = section[k+len(open) : l]
		}
		body, ok := parts[name]
		switch {
		case !ok && prev != "":
			body, ok = prev, true
		case ok && strings.HasSuffix(name, "mutants"): // a run of some planted bugs keeps the others' rows
			body = mergeRows(prev, body)
		}
		if ok {
			b.WriteString(open + body + end)
		}
	}
	b.WriteString(endMarker)
	return os.WriteFile(path, []byte(before+b.String()+after), 0o644)
}

// mergeRows is the table next with the rows of prev whose first cell (a
// mutant's name) next has no row for kept in their places, and next's
// other rows after them: a run of one mutant replaces that mutant's row
// and leaves the others'. The text around the table is next's.
func mergeRows(prev, next string) string {
	key := func(line string) (string, bool) {
		if !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| mutant |") {
			return "", false
		}
		cell, _, _ := strings.Cut(line[2:], " |")
		return cell, true
	}
	fresh := map[string]string{}
	var head, tail []string
	for _, line := range strings.Split(strings.TrimSuffix(next, "\n"), "\n") {
		if k, ok := key(line); ok {
			fresh[k] = line
			tail = append(tail, k)
		} else if len(tail) == 0 {
			head = append(head, line)
		}
	}
	rows := head
	for _, line := range strings.Split(prev, "\n") {
		k, ok := key(line)
		if !ok {
			continue
		}
		if l, ok := fresh[k]; ok {
			line = l
			delete(fresh, k)
		}
		rows = append(rows, line)
	}
	for _, k := range tail {
		if l, ok := fresh[k]; ok {
			rows = append(rows, l)
		}
	}
	return strings.Join(rows, "\n") + "\n"
}
