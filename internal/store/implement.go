package store

import (
	"crypto/rand"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"vigil/internal/access"
	"vigil/internal/auth"
)

// What follows is shared by the implementations (sqlite, postgres): rules
// every store keeps whatever its SQL.

// CheckDeviceCredential keeps a device's credential bound to its id: a
// camera signs in as its own id and nothing else.
func CheckDeviceCredential(id access.DeviceID, c auth.Credential) error {
	if _, err := access.ParseDeviceID(string(id)); err != nil {
		return err
	}
	if c.User != string(id) {
		return fmt.Errorf("device %s: credential user %q must be the device id", id, c.User)
	}
	return nil
}

// EpochSecretSize is the length of an epoch secret in bytes.
const EpochSecretSize = 32

// NewEpochSecret returns a fresh epoch secret from crypto/rand.
func NewEpochSecret() ([]byte, error) {
	b := make([]byte, EpochSecretSize)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("new epoch secret: %w", err)
	}
	return b, nil
}

// Migration is one step of a store's schema.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations reads the *.sql files in dir of fsys, each named with its
// version first (0007_scopes.sql), in version order.
func Migrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, e := range entries {
		prefix, _, _ := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(prefix)
		if err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number", e.Name())
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: e.Name(), SQL: string(b)})
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("no migrations in %s", dir)
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	return ms, nil
}
