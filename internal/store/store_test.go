package store

import (
	"regexp"
	"testing"

	"vigil/internal/access"
)

func TestNewDeviceID(t *testing.T) {
	shape := regexp.MustCompile(`^cam-[a-z2-7]{10}$`)
	seen := map[access.DeviceID]bool{}
	for range 1000 {
		id, err := NewDeviceID()
		if err != nil {
			t.Fatal(err)
		}
		if !shape.MatchString(string(id)) {
			t.Fatalf("NewDeviceID() = %q, want cam- and 10 base32 characters", id)
		}
		if _, err := access.ParseDeviceID(string(id)); err != nil {
			t.Fatalf("ParseDeviceID(%q) = %v", id, err)
		}
		if seen[id] {
			t.Fatalf("NewDeviceID() repeated %q", id)
		}
		seen[id] = true
	}
}
