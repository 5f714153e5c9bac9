package storetest

import (
	"errors"
	"testing"

	"vigil/internal/config"
	"vigil/internal/seal"
	"vigil/internal/store"
)

const camPassword = "Hik-Known-Pa55word"

// testSourceSealedAtRest: a pull source written through the store is
// sealed where the store keeps it, reads back whole, does not open under
// another key, and cannot be written without the secrets.
func testSourceSealedAtRest(t *testing.T, b Backend) {
	where := b.New(t)
	s, err := b.Open(t.Context(), where, Secrets(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	d := device("d-sealed", "porch")
	d.Source = config.Secret("rtsp://admin:" + camPassword + "@192.0.2.7:554/Streaming/Channels/101")
	if err := s.CreateDevice(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	got, err := s.Device(t.Context(), d.ID)
	if err != nil || got.Source != d.Source {
		t.Fatalf("read back %v (%v)", got.Source.Reveal(), err)
	}
	s.Close()
	if b.Holds(t, where, camPassword) {
		t.Error("the store holds the camera password in clear")
	}

	wrong := b.openAt(t, where, Secrets(t, 2))
	if _, err := wrong.Device(t.Context(), d.ID); !errors.Is(err, seal.ErrSecretOpen) {
		t.Errorf("another master key read the source: %v", err)
	}
	bare := b.openAt(t, where, nil)
	d2 := device("d-bare", "x")
	d2.Source = "rtsp://u:p@192.0.2.8/"
	if err := bare.CreateDevice(t.Context(), d2); !errors.Is(err, store.ErrNoSecrets) {
		t.Errorf("write without secrets: %v, want ErrNoSecrets", err)
	}
}
