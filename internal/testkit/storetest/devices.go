package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/auth"
	"vigil/internal/store"
)

func testDevices(t *testing.T, b Backend) {
	ctx := t.Context()
	s := b.openAt(t, b.New(t), Secrets(t, 1))
	a, bb := device("cam-aaaa", "front door"), device("cam-bbbb", "garden")
	bb.Source = "rtsp://u:p@192.0.2.1/stream"
	bb.CreatedAt = a.CreatedAt.Add(time.Second)
	bb.EpochStarted = bb.CreatedAt

	errAny := errors.New("any error")
	create := []struct {
		name string
		d    store.Device
		want error // nil, errAny or a sentinel the error must wrap
	}{
		{"a", a, nil},
		{"b", bb, nil},
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
	if len(got) != 2 || got[0] != a || got[1] != bb {
		t.Fatalf("Devices = %+v, want [a b]", got)
	}
	if d, err := s.Device(ctx, "cam-bbbb"); err != nil || d != bb || d.Source.Reveal() != "rtsp://u:p@192.0.2.1/stream" {
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

	if err := s.SetDeviceName(ctx, "cam-aaaa", "Front door"); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.Device(ctx, "cam-aaaa"); d.Name != "Front door" || !d.Credential.CheckPassword("rotated") {
		t.Fatalf("renamed device: %+v, want name Front door and the credential kept", d)
	}
	if d, _ := s.Device(ctx, "cam-bbbb"); d.Name != bb.Name {
		t.Fatalf("renaming a changed b too: its name is %q", d.Name)
	}

	notFound := []struct {
		name string
		call func() error
	}{
		{"Device", func() error { _, err := s.Device(ctx, "cam-none"); return err }},
		{"DeleteDevice", func() error { return s.DeleteDevice(ctx, "cam-none") }},
		{"SetDeviceName", func() error { return s.SetDeviceName(ctx, "cam-none", "x") }},
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

func testUsers(t *testing.T, b Backend) {
	ctx := t.Context()
	s := b.open(t)
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

func testSurvivesReopen(t *testing.T, b Backend) {
	where := b.New(t)
	s, err := b.Open(t.Context(), where, nil)
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
	s = b.openAt(t, where, nil)
	if got, err := s.Device(t.Context(), d.ID); err != nil || got != d {
		t.Errorf("Device after reopen = %+v, %v; want %+v", got, err, d)
	}
	if got, err := s.User(t.Context(), u.ID); err != nil || got != u {
		t.Errorf("User after reopen = %+v, %v; want %+v", got, err, u)
	}
}

// testConcurrentOpen: processes starting at once against a new store
// (nodes of a cluster, an admin command beside the server) all open it,
// and the migrations are applied once.
func testConcurrentOpen(t *testing.T, b Backend) {
	where := b.New(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			s, err := b.Open(t.Context(), where, nil)
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
