package canary

import (
	"context"

	"vigil/internal/vigilproc"
)

// Build compiles the vigil binary of the module at src into dir: with the
// race detector if race, with the planted bugs if mutants (-tags
// canarymutant).
func Build(ctx context.Context, src, dir string, race, mutants bool) (string, error) {
	var tags []string
	if mutants {
		tags = append(tags, "canarymutant")
	}
	return vigilproc.Build(ctx, src, dir, race, tags...)
}
