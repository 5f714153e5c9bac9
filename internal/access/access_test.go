package access

import (
	"errors"
	"testing"
	"time"
)

func TestParseDeviceID(t *testing.T) {
	for _, tt := range []struct {
		in string
		ok bool
	}{
		{"cam-abc123", true}, {"abc", true}, {"ab", false}, {"-cam", false}, {"Cam-1", false},
		{"cam/../x", false}, {"cam 1", false}, {"", false}, {string(make([]byte, 65)), false},
	} {
		_, err := ParseDeviceID(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ParseDeviceID(%q) = %v, want ok=%v", tt.in, err, tt.ok)
		}
	}
}

func TestGrantCheck(t *testing.T) {
	i := NewIssuer()
	now := time.Now()
	lease := NewLease()
	g := i.MintLeased("u1", "cam-a", AudienceWeb, time.Minute, lease)
	var mm *MismatchError
	tests := []struct {
		name   string
		g      Grant
		device DeviceID
		at     time.Time
		want   error
	}{
		{"own device", g, "cam-a", now, nil},
		{"zero grant", Grant{}, "cam-a", now, ErrNoGrant},
		{"expired", g, "cam-a", now.Add(2 * time.Minute), ErrGrantExpired},
	}
	for _, tt := range tests {
		if err := tt.g.Check(tt.device, tt.at); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
	if err := g.Check("cam-b", now); !errors.As(err, &mm) || mm.Grant != "cam-a" || mm.Object != "cam-b" {
		t.Errorf("other device: %v", err)
	}
	lease.Revoke()
	lease.Revoke() // twice is fine
	if err := g.Check("cam-a", now); !errors.Is(err, ErrGrantRevoked) {
		t.Errorf("revoked: %v", err)
	}
	select {
	case <-g.Done():
	default:
		t.Error("Done not closed after Revoke")
	}
	if i.Mint("u1", "cam-a", AudienceWeb, time.Minute).Done() != nil {
		t.Error("a grant without a lease has a Done channel")
	}
}
