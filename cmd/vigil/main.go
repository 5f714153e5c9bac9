// Command vigil is the Vigil camera cloud: `vigil serve` (the default),
// `vigil sim` (simulated cameras) and `vigil device` (device admin).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"vigil/internal/app"
	"vigil/internal/config"
	"vigil/internal/mutant"
)

const usage = `usage: vigil [config flags] [serve | sim | device] [args]

  serve                      run Vigil (the default)
  sim --cameras N ...        publish N simulated cameras to a Vigil
  device add|list|remove|rotate ...   manage cameras
  user add --name NAME [--admin]      create a user (or set a new password)

Config flags come before the command; run 'vigil -h' for them.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "vigil:", err)
			os.Exit(1)
		}
		fmt.Fprint(os.Stderr, usage)
		fmt.Fprintln(os.Stderr, err)
	}
}

func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	cfg, rest, err := config.Load(args, environ)
	if err != nil {
		return err
	}
	cmd := "serve"
	if len(rest) > 0 {
		cmd, rest = rest[0], rest[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, cfg, environ, stderr)
	case "device":
		return runDevice(ctx, cfg, rest, stdout)
	case "user":
		return runUser(ctx, cfg, rest, stdout)
	case "sim":
		return runSim(ctx, cfg, rest, stderr)
	case "help":
		return flag.ErrHelp
	}
	return fmt.Errorf("unknown command %q\n%s", cmd, usage)
}

func serve(ctx context.Context, cfg config.Config, environ []string, stderr io.Writer) error {
	log := cfg.Logger(stderr)
	// Only a binary built with -tags canarymutant plants a bug; others
	// ignore VIGIL_MUTANT.
	m, err := mutant.Activate(environ)
	if err != nil {
		return err
	}
	if m != "" {
		log.Warn("canary mutant planted: this Vigil has an isolation bug on purpose", "mutant", m)
	}
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	if err := a.Start(); err != nil {
		return err
	}
	return a.Run(ctx)
}
