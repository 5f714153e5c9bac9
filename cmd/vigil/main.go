// Command vigil is the Vigil camera cloud: `vigil serve` (the default),
// `vigil sim` (simulated cameras), `vigil device` and `vigil user` (admin),
// `vigil backup` and `vigil restore`, and `vigil version`.
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

	"vigil/internal/config"
)

const usage = `usage: vigil [settings] [command] [args and settings]

  serve                      run Vigil (the default)
  sim --cameras N ...        publish N simulated cameras to a Vigil
  device add|list|remove|rotate ...   manage cameras
  user add|list|disable|enable ...    manage users
  backup FILE                write an encrypted backup of the data directory
  restore FILE               restore a backup into an empty data directory
  example-config             print a config file listing every setting
  version                    print the version

Settings (--data-dir, --http-addr, ...) may come before or after the
command; 'vigil serve -h' lists them all with their defaults.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	io := stdio{in: os.Stdin, out: os.Stdout, err: os.Stderr}
	if err := run(ctx, os.Args[1:], os.Environ(), io); err != nil {
		fmt.Fprintln(os.Stderr, "vigil:", err)
		os.Exit(1)
	}
}

// stdio is where a command reads and writes.
type stdio struct {
	in       io.Reader
	out, err io.Writer
}

// command is one subcommand's context: the settings flags seen so far
// (more may follow the command word) and the environment.
type command struct {
	flags   *config.Flags
	environ []string
	stdio
}

// config builds the configuration from everything parsed so far.
func (c command) config() (config.Config, error) { return c.flags.Config(c.environ) }

// flagSet is a FlagSet for the command name that also takes every setting.
func (c command) flagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.flags.Register(fs)
	return fs
}

// errHelpShown means help was asked for and printed: exit 0.
var errHelpShown = errors.New("help shown")

// parse parses args into fs; -h prints help (the command's, then every
// setting) to stdout.
func (c command) parse(fs *flag.FlagSet, args []string, help string) ([]string, error) {
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(c.out, help, "\n", config.Help())
		return nil, errHelpShown
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w; run `vigil %s -h` for help", fs.Name(), err, fs.Name())
	}
	return pos, nil
}

func run(ctx context.Context, args, environ []string, sio stdio) error {
	c := command{flags: &config.Flags{}, environ: environ, stdio: sio}
	fs := flag.NewFlagSet("vigil", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.flags.Register(fs)
	err := fs.Parse(args) // settings before the command; stops at the command word
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(c.out, usage, "\n", config.Help())
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w; run `vigil -h` for help", err)
	}
	cmd, rest := "serve", fs.Args()
	if len(rest) > 0 {
		cmd, rest = rest[0], rest[1:]
	}
	err = c.dispatch(ctx, cmd, rest)
	if errors.Is(err, errHelpShown) {
		return nil
	}
	return err
}

func (c command) dispatch(ctx context.Context, cmd string, rest []string) error {
	switch cmd {
	case "serve":
		return c.serve(ctx, rest)
	case "device":
		return runDevice(ctx, c, rest)
	case "user":
		return runUser(ctx, c, rest)
	case "sim":
		return runSim(ctx, c, rest)
	case "backup":
		return runBackup(ctx, c, rest)
	case "restore":
		return runRestore(ctx, c, rest)
	case "example-config":
		_, err := fmt.Fprint(c.out, config.Example())
		return err
	case "version":
		_, err := fmt.Fprintln(c.out, version())
		return err
	case "help":
		_, err := fmt.Fprint(c.out, usage, "\n", config.Help())
		return err
	}
	return fmt.Errorf("unknown command %q\n%s", cmd, usage)
}
