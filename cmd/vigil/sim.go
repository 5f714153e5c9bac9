package main

import (
	"context"
	"errors"
	"io"

	"vigil/internal/config"
)

func runSim(ctx context.Context, cfg config.Config, args []string, stderr io.Writer) error {
	return errors.New("sim: not built yet")
}
