package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"vigil/internal/backup"
	"vigil/internal/config"
	"vigil/internal/datadir"
	"vigil/internal/store/sqlite"
)

const backupUsage = `usage: vigil backup FILE [--passphrase-file PATH] [settings]
       vigil restore FILE [--passphrase-file PATH] [settings]

backup writes the database (a consistent copy, taken while Vigil runs) and
the master key to FILE, encrypted under a passphrase (Argon2id,
XChaCha20-Poly1305). restore puts them into data_dir, which must be empty
or missing, and checks that the key opens the database's secrets.
The passphrase comes from --passphrase-file, else VIGIL_BACKUP_PASSPHRASE,
else it is asked for on the terminal. Keep it apart from the backup: both
together are everything needed to read the cameras' secrets.
`

// passphraseEnv names the variable a passphrase may come from.
const passphraseEnv = "VIGIL_BACKUP_PASSPHRASE"

// backupFiles are the data directory's files a backup holds; stills are a
// cache and certificates are obtained again.
func backupFiles() []string { return []string{datadir.DBFile, datadir.MasterKeyFile} }

type backupArgs struct {
	file     string
	passFile string
}

func (c command) backupArgs(name string, args []string) (backupArgs, error) {
	var a backupArgs
	fs := c.flagSet(name)
	fs.StringVar(&a.passFile, "passphrase-file", "", "read the passphrase from the first line of `PATH`")
	pos, err := c.parse(fs, args, backupUsage)
	if err != nil {
		return a, err
	}
	if len(pos) != 1 {
		return a, fmt.Errorf("%s: want one FILE argument, got %q\n%s", name, pos, backupUsage)
	}
	a.file = pos[0]
	return a, nil
}

// runBackup writes an encrypted backup of the data directory.
func runBackup(ctx context.Context, c command, args []string) error {
	a, err := c.backupArgs("backup", args)
	if err != nil {
		return err
	}
	cfg, err := c.config()
	if err != nil {
		return err
	}
	if err := sqliteOnly(cfg, "backup"); err != nil {
		return err
	}
	dbPath := filepath.Join(cfg.DataDir, datadir.DBFile)
	if _, err := os.Stat(dbPath); err != nil {
		return fmt.Errorf("backup: %w; set data_dir to the directory Vigil runs with", err)
	}
	pass, err := c.passphrase(a.passFile, true)
	if err != nil {
		return err
	}
	master, err := os.ReadFile(filepath.Join(cfg.DataDir, datadir.MasterKeyFile))
	if err != nil {
		return fmt.Errorf("backup: master key: %w", err)
	}
	db, err := snapshot(ctx, dbPath)
	if err != nil {
		return err
	}
	files := []backup.File{{Name: datadir.DBFile, Mode: 0o600, Data: db}, {Name: datadir.MasterKeyFile, Mode: 0o600, Data: master}}
	if err := writeFileAtomic(a.file, func(w io.Writer) error { return backup.Write(w, pass, files) }); err != nil {
		return err
	}
	_, err = fmt.Fprintf(c.out, "backup written to %s (%d bytes of database); restore with: vigil restore %s --data-dir NEW_DIR\n",
		a.file, len(db), a.file)
	return err
}

// snapshot returns a consistent copy of the database at dbPath, taken with
// VACUUM INTO into a private temporary directory.
func snapshot(ctx context.Context, dbPath string) ([]byte, error) {
	tmp, err := os.MkdirTemp("", "vigil-backup-*") // mode 0700
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	defer os.RemoveAll(tmp)
	st, err := sqlite.Open(ctx, dbPath) // no secrets needed: they are copied sealed
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	defer st.Close()
	copyPath := filepath.Join(tmp, datadir.DBFile)
	if err := st.Backup(ctx, copyPath); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	return os.ReadFile(copyPath)
}

// writeFileAtomic writes path (mode 0600) through a temporary file, so a
// failed backup never leaves a partial file under the name given.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	if err := datadir.WriteFileFunc(path, "", write); err != nil {
		return fmt.Errorf("backup %s: %w", path, err)
	}
	return nil
}

// runRestore restores a backup into an empty data directory, holding its
// lock so no server starts on it meanwhile.
func runRestore(ctx context.Context, c command, args []string) error {
	a, err := c.backupArgs("restore", args)
	if err != nil {
		return err
	}
	cfg, err := c.config()
	if err != nil {
		return err
	}
	if err := sqliteOnly(cfg, "restore"); err != nil {
		return err
	}
	if err := datadir.CheckEmpty(cfg.DataDir); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	f, err := os.Open(a.file)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer f.Close()
	pass, err := c.passphrase(a.passFile, false)
	if err != nil {
		return err
	}
	if err := datadir.Prepare(cfg.DataDir); err != nil {
		return err
	}
	lock, err := datadir.Acquire(cfg.DataDir)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer lock.Release()
	if err := datadir.CheckEmpty(cfg.DataDir); err != nil { // again, now that nobody else can write
		return fmt.Errorf("restore: %w", err)
	}
	if err := restoreFiles(f, pass, cfg.DataDir); err != nil {
		for _, name := range backupFiles() {
			os.Remove(filepath.Join(cfg.DataDir, name))
		}
		return err
	}
	if err := checkRestored(ctx, cfg); err != nil {
		return err
	}
	_, err = fmt.Fprintf(c.out, "restored %s into %s; start it with: vigil serve --data-dir %s\n", a.file, cfg.DataDir, cfg.DataDir)
	return err
}

// restoreFiles writes the backup's files into dir, mode 0600; it accepts
// only the file names a backup holds.
func restoreFiles(r io.Reader, pass []byte, dir string) error {
	seen := map[string]bool{}
	err := backup.Read(r, pass, func(bf backup.File) error {
		if !isBackupFile(bf.Name) || seen[bf.Name] {
			return fmt.Errorf("restore: unexpected file %q in the backup", bf.Name)
		}
		seen[bf.Name] = true
		return os.WriteFile(filepath.Join(dir, bf.Name), bf.Data, 0o600)
	})
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	for _, name := range backupFiles() {
		if !seen[name] {
			return fmt.Errorf("restore: the backup lacks %s", name)
		}
	}
	return nil
}

func isBackupFile(name string) bool {
	for _, n := range backupFiles() {
		if n == name {
			return true
		}
	}
	return false
}

// sqliteOnly refuses a backup or restore of a Postgres store: they copy
// the SQLite file.
func sqliteOnly(cfg config.Config, what string) error {
	if cfg.Store == config.StorePostgres {
		return fmt.Errorf("%s: vigil %s copies the SQLite store; with store: postgres, back up the database with pg_dump and keep %s beside it",
			what, what, filepath.Join(cfg.DataDir, datadir.MasterKeyFile))
	}
	return nil
}

// checkRestored opens the restored store with the restored key and reads
// every device, so a key that does not match its database fails now.
func checkRestored(ctx context.Context, cfg config.Config) error {
	st, err := openStore(ctx, cfg)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer st.Close()
	if _, err := st.Devices(ctx); err != nil {
		return fmt.Errorf("restore: the restored master key does not open the database's secrets: %w", err)
	}
	return nil
}

// passphrase reads the passphrase from file, the environment or the
// terminal (twice when confirm, for a new backup).
func (c command) passphrase(file string, confirm bool) ([]byte, error) {
	var p []byte
	switch {
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("passphrase file: %w", err)
		}
		line, _, _ := strings.Cut(string(b), "\n")
		p = []byte(strings.TrimRight(line, "\r"))
	case envValue(c.environ, passphraseEnv) != "":
		p = []byte(envValue(c.environ, passphraseEnv))
	default:
		var err error
		if p, err = c.prompt("Backup passphrase: "); err != nil {
			return nil, err
		}
		if confirm {
			again, err := c.prompt("Same passphrase again: ")
			if err != nil {
				return nil, err
			}
			if !bytes.Equal(p, again) {
				return nil, errors.New("the passphrases differ; try again")
			}
		}
	}
	if len(p) < backup.MinPassphrase {
		return nil, fmt.Errorf("the passphrase must be at least %d characters", backup.MinPassphrase)
	}
	return p, nil
}

func envValue(environ []string, key string) string {
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// prompt reads a line from the terminal on stdin without echoing it.
func (c command) prompt(text string) ([]byte, error) {
	in, ok := c.in.(*os.File)
	if !ok || !isTerminal(in) {
		return nil, fmt.Errorf("no passphrase: give --passphrase-file or %s, or run on a terminal", passphraseEnv)
	}
	fd := int(in.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, err
	}
	quiet := *old
	quiet.Lflag &^= unix.ECHO
	quiet.Lflag |= unix.ICANON | unix.ISIG
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &quiet); err != nil {
		return nil, err
	}
	defer unix.IoctlSetTermios(fd, unix.TCSETS, old)
	fmt.Fprint(c.err, text)
	defer fmt.Fprintln(c.err)
	var line []byte
	b := make([]byte, 1)
	for {
		n, err := in.Read(b)
		if n == 0 || err != nil || b[0] == '\n' {
			return bytes.TrimRight(line, "\r"), nil
		}
		line = append(line, b[0])
	}
}
