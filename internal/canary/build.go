package canary

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
)

// Build compiles the vigil binary of the module at src into dir: with the
// race detector if race, with the planted bugs if mutants (-tags
// canarymutant).
func Build(ctx context.Context, src, dir string, race, mutants bool) (string, error) {
	name := "vigil"
	args := []string{"build"}
	if race {
		args = append(args, "-race")
		name += "-race"
	}
	if mutants {
		args = append(args, "-tags", "canarymutant")
		name += "-mutant"
	}
	bin := filepath.Join(dir, name)
	args = append(args, "-o", bin, "./cmd/vigil")
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = src
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("canary: go %v: %w\n%s", args, err, out)
	}
	return bin, nil
}
