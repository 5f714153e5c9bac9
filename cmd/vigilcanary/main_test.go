package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWriteSection: the canary's section is appended once, then replaced
// in place; a part not run again is kept (a cluster run keeps the single
// node's, and the other way round); what surrounds it is kept.
func TestWriteSection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	if err := os.WriteFile(path, []byte("# Benchmarks\n\nfan-out\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, parts := range []map[string]string{
		{"clean": "first clean\n", "mutants": "first mutants\n"},
		{"mutants": "second mutants\n"},
		{"cluster": "cluster clean\n"}, // a cluster run keeps the single node's parts
	} {
		if err := writeSection(path, parts); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := os.ReadFile(path)
	s := string(b)
	if !strings.HasPrefix(s, "# Benchmarks\n\nfan-out\n") || strings.Contains(s, "first mutants") ||
		!strings.Contains(s, "first clean") || !strings.Contains(s, "second mutants") || !strings.Contains(s, "cluster clean") ||
		strings.Count(s, beginMarker) != 1 || strings.Count(s, endMarker) != 1 {
		t.Errorf("file:\n%s", s)
	}
}

// TestWriteSectionKeepsOtherMutants: a run of one mutant replaces its
// own row of the table and keeps the other mutants' rows in place.
func TestWriteSectionKeepsOtherMutants(t *testing.T) {
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	const head = "### Planted bugs\n\n| mutant | verdict |\n|---|---|\n"
	for _, parts := range []map[string]string{
		{"clean": "clean\n", "mutants": head + "| a | old a |\n| b | old b |\n| c | old c |\n"},
		{"mutants": head + "| b | new b |\n| d | new d |\n"},
	} {
		if err := writeSection(path, parts); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := os.ReadFile(path)
	want := head + "| a | old a |\n| b | new b |\n| c | old c |\n| d | new d |\n"
	if s := string(b); !strings.Contains(s, "<!-- canary:mutants -->\n"+want+"<!-- /canary:mutants -->") || !strings.Contains(s, "clean\n") {
		t.Errorf("file:\n%s", s)
	}
}

// TestFlags: -src must be the module; the defaults are the documented ones.
func TestFlags(t *testing.T) {
	o, err := parseFlags([]string{"-src", "../.."}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	if o.cameras != 200 || o.users != 100 || o.duration.Minutes() != 12 {
		t.Errorf("defaults: %+v", o)
	}
	if _, err := parseFlags([]string{"-src", t.TempDir()}, os.Stderr); err == nil {
		t.Error("-src of a directory without cmd/vigil accepted")
	}
	if _, err := parseFlags([]string{"-src", "../..", "-nodes", "3", "-postgres", "host=/tmp", "-mutant", "all"}, os.Stderr); err == nil {
		t.Error("one -postgres database accepted for every run of -mutant all")
	}
}
