package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"

	"vigil/internal/access"
	"vigil/internal/config"
	"vigil/internal/store"
)

// Secrets seals the secrets the database keeps (see store.Secrets).
type Secrets = store.Secrets

// Option configures Open.
type Option func(*Store)

// WithSecrets seals secrets at rest with s. Open then also seals any
// secret an older Vigil stored in clear.
func WithSecrets(s Secrets) Option { return func(st *Store) { st.secrets = s } }

const sealedPrefix = store.SealedPrefix

func (s *Store) sealSource(id access.DeviceID, src config.Secret) (string, error) {
	return store.SealSource(s.secrets, id, src)
}

func (s *Store) openSource(id access.DeviceID, col string) (config.Secret, error) {
	return store.OpenSource(s.secrets, id, col)
}

// sealText and openText seal the store's other secret columns (see
// store.SealText).
func (s *Store) sealText(label, plain string) (string, error) {
	return store.SealText(s.secrets, label, plain)
}

func (s *Store) openText(label, col string) (string, error) {
	return store.OpenText(s.secrets, label, col)
}

// sealClearSources seals every source stored in clear by an older Vigil,
// then truncates the WAL so no copy of the clear text stays in it
// (secure_delete zeroes the old cells in the database file itself).
func (s *Store) sealClearSources(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, `SELECT id, source FROM devices WHERE source != '' AND source NOT LIKE 'sealed:%'`)
	if err != nil {
		return fmt.Errorf("seal sources: %w", err)
	}
	inClear := map[access.DeviceID]config.Secret{}
	for rows.Next() {
		var id, src string
		if err := rows.Scan(&id, &src); err != nil {
			rows.Close()
			return fmt.Errorf("seal sources: %w", err)
		}
		inClear[access.DeviceID(id)] = config.Secret(src)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("seal sources: %w", err)
	}
	if len(inClear) == 0 {
		return nil
	}
	for id, src := range inClear {
		col, err := s.sealSource(id, src)
		if err != nil {
			return err
		}
		// The WHERE keeps a concurrent change of the source.
		if _, err := s.db.ExecContext(ctx, `UPDATE devices SET source = ? WHERE id = ? AND source = ?`, col, string(id), src.Reveal()); err != nil {
			return fmt.Errorf("seal source of device %s: %w", id, err)
		}
	}
	if _, err := s.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return fmt.Errorf("seal sources: checkpoint: %w", err)
	}
	return nil
}

// privateFile creates path with mode 0600 if it does not exist and takes
// group and other permissions away if it does, so SQLite (which gives its
// -wal and -shm files the database file's mode) keeps everything private.
func privateFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open store %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("open store %s: %w", path, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := f.Chmod(0o600); err != nil {
			return fmt.Errorf("open store %s: make it private: %w; run `chmod 600 %s`", path, err, path)
		}
	}
	for _, side := range []string{"-wal", "-shm"} {
		if err := os.Chmod(path+side, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("open store %s: make it private: %w", path+side, err)
		}
	}
	return nil
}

// Backup writes a consistent copy of the database to path (which must not
// exist) with VACUUM INTO: one read transaction, so writers carry on and
// the copy holds every committed write up to its start. Secrets stay
// sealed in the copy.
func (s *Store) Backup(ctx context.Context, path string) error {
	if _, err := s.db.ExecContext(ctx, `VACUUM INTO ?`, path); err != nil {
		return fmt.Errorf("back up the database: %w", err)
	}
	return nil
}
