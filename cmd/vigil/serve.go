package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"

	"golang.org/x/sys/unix"

	"vigil/internal/app"
	"vigil/internal/config"
	"vigil/internal/mutant"
)

const serveUsage = `usage: vigil serve [settings]

Runs Vigil until interrupted. Every setting below may be given as a flag
here, as a VIGIL_* variable or in the --config file.
`

func (c command) serve(ctx context.Context, args []string) error {
	pos, err := c.parse(c.flagSet("serve"), args, serveUsage)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("serve: unexpected argument %q; run `vigil serve -h` for help", pos[0])
	}
	cfg, err := c.config()
	if err != nil {
		return err
	}
	log := cfg.Logger(c.err)
	tuneGC(c.environ)
	// Only a binary built with -tags canarymutant plants a bug; others
	// ignore VIGIL_MUTANT.
	m, err := mutant.Activate(c.environ)
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
	if pw := a.GeneratedAdminPassword(); pw != "" {
		if err := showAdminPassword(cfg, pw, c.err); err != nil {
			return err
		}
		log.Warn("admin created with a generated password, shown once outside the log (set admin_password to choose one)",
			"user", app.AdminName)
	}
	return a.Run(ctx)
}

// adminPasswordFile is where a generated admin password goes when no
// terminal is there to show it to (a service manager's log is a log).
const adminPasswordFile = "initial-admin-password"

// showAdminPassword prints the generated admin password to the terminal
// or, without one, writes it to a private file in the data directory.
func showAdminPassword(cfg config.Config, pw string, stderr io.Writer) error {
	if isTerminal(stderr) {
		_, err := fmt.Fprintf(stderr, "\n  admin password: %s\n  (shown only now; sign in as %s and keep it safe)\n\n", pw, app.AdminName)
		return err
	}
	path := filepath.Join(cfg.DataDir, adminPasswordFile)
	if err := os.WriteFile(path, []byte(pw+"\n"), 0o600); err != nil {
		return fmt.Errorf("write the generated admin password: %w", err)
	}
	_, err := fmt.Fprintf(stderr, "vigil: the generated admin password is in %s (not in the log); read it, then delete the file\n", path)
	return err
}

// isTerminal reports whether w is a terminal.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// version describes this build from the information Go embeds.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "vigil (unknown build)"
	}
	v := "vigil " + bi.Main.Version
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		v += " " + rev[:min(12, len(rev))]
		if settings["vcs.modified"] == "true" {
			v += "+modified"
		}
		if t := settings["vcs.time"]; t != "" {
			v += " " + t
		}
	}
	return v + " " + bi.GoVersion
}
