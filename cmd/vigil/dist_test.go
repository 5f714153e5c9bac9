package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSystemdUnitVerifies: dist/vigil.service passes `systemd-analyze
// verify` without a word (unknown keys are only warnings there, so any
// output fails), and its ExecStart is a command line vigil accepts.
func TestSystemdUnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatal("systemd-analyze is missing: run `make test` (scripts/deps.sh installs Debian's systemd package)")
	}
	unit, err := os.ReadFile("../../dist/vigil.service")
	if err != nil {
		t.Fatal(err)
	}
	bin := buildVigil(t)
	// verify wants ExecStart's program to exist: point it at the binary
	// just built, and change nothing else.
	text := strings.ReplaceAll(string(unit), "/usr/local/bin/vigil", bin)
	path := filepath.Join(t.TempDir(), "vigil.service")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}

	var exec_ []string
	for line := range strings.SplitSeq(text, "\n") {
		if v, ok := strings.CutPrefix(line, "ExecStart="); ok {
			exec_ = strings.Fields(v)
		}
	}
	if len(exec_) < 2 || exec_[0] != bin {
		t.Fatalf("ExecStart = %q", exec_)
	}
	if out, err := exec.Command(bin, append(exec_[1:], "-h")...).CombinedOutput(); err != nil {
		t.Fatalf("vigil rejects the unit's command line %q: %v\n%s", exec_[1:], err, out)
	}
}
