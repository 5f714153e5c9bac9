package main

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
)

// TestTable: scenario names are unique, every scenario's flags live beside
// the others', -run selects by the table in the table's order, and -h lists
// every scenario with what it measures.
func TestTable(t *testing.T) {
	seen := map[string]bool{}
	for _, e := range scenarios() {
		if seen[e.name] || e.name == "" || e.measures == "" {
			t.Errorf("entry %q: a name must be unique and say what it measures", e.name)
		}
		seen[e.name] = true
	}
	o, run, err := parseFlags([]string{"-quick", "-run", "ttff, cameras", "-cameras", "5,20"}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	if len(run) != 2 || run[0].name != "cameras" || run[1].name != "ttff" {
		t.Fatalf("-run ttff,cameras selected %v, want cameras then ttff", names(run))
	}
	if n := run[1].scenario.(*ttff).n; n != 10 || !o.quick {
		t.Errorf("quick ttff joins = %d, want 10", n)
	}
	if n := camerasNeeded(run); n != 21 {
		t.Errorf("cameras needed = %d, want 21 (the first, then 20 for the many-cameras steps)", n)
	}
	if _, _, err := parseFlags([]string{"-run", "fanout,nope"}, os.Stderr); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("-run with an unknown name: %v", err)
	}
	if _, all, err := parseFlags(nil, os.Stderr); err != nil || len(all) != len(scenarios()) {
		t.Errorf("no -run selected %d of %d scenarios (%v)", len(all), len(scenarios()), err)
	}
}

func TestUsageListsScenarios(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = parseFlags([]string{"-h"}, w)
	w.Close()
	var out bytes.Buffer
	out.ReadFrom(r)
	if err == nil {
		t.Fatal("-h: want flag.ErrHelp")
	}
	for _, e := range scenarios() {
		if !strings.Contains(out.String(), e.name) || !strings.Contains(out.String(), e.measures) {
			t.Errorf("-h does not list %s: %s", e.name, e.measures)
		}
	}
}

func names(es []entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.name)
	}
	return out
}

func TestParseCounts(t *testing.T) {
	if got, err := parseCounts("1, 50,200"); err != nil || len(got) != 3 || got[2] != 200 {
		t.Fatalf("parseCounts = %v, %v", got, err)
	}
	for _, bad := range []string{"", "0", "5,5", "10,2", "x"} {
		if _, err := parseCounts(bad); err == nil {
			t.Errorf("parseCounts(%q): want an error", bad)
		}
	}
}

// TestReportOfScenariosThatFailedEarly: a scenario that failed before it
// measured anything still leaves a report that writes, naming the failure.
func TestReportOfScenariosThatFailedEarly(t *testing.T) {
	_, run, err := parseFlags(nil, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	rep := report{ran: run}
	rep.fail("ttff", errors.New("vigil not healthy"))
	md := rep.markdown()
	for _, want := range []string{"ttff: vigil not healthy", "## Targets", "## Fan-out"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}
