package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/auth"
	"vigil/internal/store"
)

func open(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func device(id, name string) store.Device {
	return store.Device{
		ID:         access.DeviceID(id),
		Name:       name,
		Credential: auth.HashCredential(id, "pw-"+id),
		CreatedAt:  time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC),
		// A device's first epoch starts when it is created.
		EpochStarted: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC),
	}
}

func TestPragmas(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "vigil.db"))
	tests := []struct{ pragma, want string }{
		{"journal_mode", "wal"},
		{"synchronous", "2"}, // FULL
		{"foreign_keys", "1"},
		{"busy_timeout", "5000"},
	}
	for _, tt := range tests {
		t.Run(tt.pragma, func(t *testing.T) {
			var got string
			if err := s.db.QueryRowContext(t.Context(), "PRAGMA "+tt.pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("PRAGMA %s = %q, want %q", tt.pragma, got, tt.want)
			}
		})
	}
}

func TestMigrationsIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.db")
	ms, err := migrations()
	if err != nil || len(ms) == 0 {
		t.Fatalf("migrations() = %v, %v", ms, err)
	}
	for i := range 3 {
		s, err := Open(t.Context(), path)
		if err != nil {
			t.Fatalf("open #%d: %v", i, err)
		}
		var n, maxV int
		if err := s.db.QueryRow(`SELECT COUNT(*), MAX(version) FROM migrations`).Scan(&n, &maxV); err != nil {
			t.Fatal(err)
		}
		if n != len(ms) || maxV != ms[len(ms)-1].version {
			t.Errorf("open #%d: %d migrations up to %d, want %d up to %d", i, n, maxV, len(ms), ms[len(ms)-1].version)
		}
		s.Close()
	}
}

func TestConcurrentOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.db")
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			s, err := Open(t.Context(), path)
			if err == nil {
				err = s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.db")
	s := open(t, path)
	if _, err := s.db.Exec(`INSERT INTO migrations VALUES (9999, 'future', 0)`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(t.Context(), path); err == nil {
		t.Fatal("Open of a newer schema succeeded")
	}
}

func TestDevices(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "vigil.db"), WithSecrets(secrets(t, 1)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a, b := device("cam-aaaa", "front door"), device("cam-bbbb", "garden")
	b.Source = "rtsp://u:p@192.0.2.1/stream"
	b.CreatedAt = a.CreatedAt.Add(time.Second)
	b.EpochStarted = b.CreatedAt

	errAny := errors.New("any error")
	create := []struct {
		name string
		d    store.Device
		want error // nil, errAny or a sentinel the error must wrap
	}{
		{"a", a, nil},
		{"b", b, nil},
		{"duplicate", device("cam-aaaa", "other"), store.ErrExists},
		{"bad id", device("Not An ID", "x"), access.ErrBadDeviceID},
		{"credential for another device", store.Device{ID: "cam-cccc", Credential: auth.HashCredential("cam-aaaa", "x")}, errAny},
	}
	for _, tt := range create {
		t.Run("create "+tt.name, func(t *testing.T) {
			err := s.CreateDevice(ctx, tt.d)
			if ok := errors.Is(err, tt.want) || (tt.want == errAny && err != nil); !ok {
				t.Fatalf("CreateDevice = %v, want %v", err, tt.want)
			}
		})
	}

	got, err := s.Devices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != a || got[1] != b {
		t.Fatalf("Devices = %+v, want [a b]", got)
	}
	if d, err := s.Device(ctx, "cam-bbbb"); err != nil || d != b || d.Source.Reveal() != "rtsp://u:p@192.0.2.1/stream" {
		t.Fatalf("Device(b) = %+v, %v", d, err)
	}

	newCred := auth.HashCredential("cam-aaaa", "rotated")
	if err := s.SetDeviceCredential(ctx, "cam-aaaa", newCred); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.Device(ctx, "cam-aaaa"); !d.Credential.CheckPassword("rotated") || d.Credential.CheckPassword("pw-cam-aaaa") {
		t.Fatalf("credential not rotated: %+v", d.Credential)
	}
	if err := s.SetDeviceCredential(ctx, "cam-aaaa", auth.HashCredential("cam-bbbb", "x")); err == nil {
		t.Fatal("SetDeviceCredential accepted another device's credential")
	}

	notFound := []struct {
		name string
		call func() error
	}{
		{"Device", func() error { _, err := s.Device(ctx, "cam-none"); return err }},
		{"DeleteDevice", func() error { return s.DeleteDevice(ctx, "cam-none") }},
		{"SetDeviceCredential", func() error {
			return s.SetDeviceCredential(ctx, "cam-none", auth.HashCredential("cam-none", "x"))
		}},
	}
	for _, tt := range notFound {
		t.Run(tt.name+" missing", func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("err = %v, want ErrNotFound", err)
			}
		})
	}

	if err := s.DeleteDevice(ctx, "cam-aaaa"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Device(ctx, "cam-aaaa"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Device after delete = %v, want ErrNotFound", err)
	}
}

func TestUsers(t *testing.T) {
	ctx := t.Context()
	s := open(t, filepath.Join(t.TempDir(), "vigil.db"))
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	admin := store.User{ID: "u-admin", Name: "admin", Credential: auth.HashCredential("admin", "one"), Admin: true, CreatedAt: created}
	if err := s.UpsertUser(ctx, admin); err != nil {
		t.Fatal(err)
	}
	// Update: new password and name; CreatedAt is kept.
	admin2 := admin
	admin2.Name, admin2.Credential, admin2.CreatedAt = "root", auth.HashCredential("root", "two"), time.Time{}
	if err := s.UpsertUser(ctx, admin2); err != nil {
		t.Fatal(err)
	}
	admin2.CreatedAt = created

	tests := []struct {
		name    string
		get     func() (store.User, error)
		want    store.User
		wantErr error
	}{
		{"by id", func() (store.User, error) { return s.User(ctx, "u-admin") }, admin2, nil},
		{"by name", func() (store.User, error) { return s.UserByName(ctx, "root") }, admin2, nil},
		{"old name gone", func() (store.User, error) { return s.UserByName(ctx, "admin") }, store.User{}, store.ErrNotFound},
		{"missing id", func() (store.User, error) { return s.User(ctx, "u-none") }, store.User{}, store.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.get()
			if !errors.Is(err, tt.wantErr) || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
	t.Run("name taken", func(t *testing.T) {
		other := store.User{ID: "u-2", Name: "root", Credential: auth.HashCredential("root", "x")}
		if err := s.UpsertUser(ctx, other); !errors.Is(err, store.ErrExists) {
			t.Fatalf("UpsertUser = %v, want ErrExists", err)
		}
	})
}

func TestSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	d := device("cam-keep", "kept")
	u := store.User{ID: "u-1", Name: "ann", Credential: auth.HashCredential("ann", "pw"), CreatedAt: d.CreatedAt}
	if err := s.CreateDevice(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	if err := s.UpsertUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, path)
	if got, err := s.Device(t.Context(), d.ID); err != nil || got != d {
		t.Errorf("Device after reopen = %+v, %v; want %+v", got, err, d)
	}
	if got, err := s.User(t.Context(), u.ID); err != nil || got != u {
		t.Errorf("User after reopen = %+v, %v; want %+v", got, err, u)
	}
}

// crashChildEnv makes the test binary act as the child of TestSurvivesKill.
const crashChildEnv = "VIGIL_STORE_CRASH_CHILD_DB"

// TestSurvivesKill writes a device in a child process, kills the child with
// SIGKILL as soon as CreateDevice has returned, and expects the device to
// be there: synchronous=FULL means a returned write is on disk.
func TestSurvivesKill(t *testing.T) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(path)
		return
	}
	path := filepath.Join(t.TempDir(), "vigil.db")
	killAfter(t, "TestSurvivesKill", crashChildEnv, path, "written", 1)

	s := open(t, path)
	d, err := s.Device(t.Context(), "cam-crash")
	if err != nil || d.Name != "written before kill" {
		t.Fatalf("Device after kill = %+v, %v", d, err)
	}
}

func crashChild(path string) {
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	d := device("cam-crash", "written before kill")
	if err := s.CreateDevice(ctx, d); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Stdout.WriteString("written\n")
	time.Sleep(time.Minute) // killed here, with the store still open
	os.Exit(2)
}
