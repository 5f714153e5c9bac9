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
	g := i.MintLeased("u1", "cam-a", AudienceWeb, time.Minute, lease, time.Time{})
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
		if err := tt.g.Check(tt.device, tt.at, tt.at); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
	if err := g.Check("cam-b", now, now); !errors.As(err, &mm) || mm.Grant != "cam-a" || mm.Object != "cam-b" {
		t.Errorf("other device: %v", err)
	}
	lease.Revoke()
	lease.Revoke() // twice is fine
	if err := g.Check("cam-a", now, now); !errors.Is(err, ErrGrantRevoked) {
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

func TestGrantCheckEpoch(t *testing.T) {
	i := NewIssuer()
	epoch := time.Now()
	lease := NewLease()
	g := i.MintLeased("u1", "cam-a", AudienceWeb, time.Minute, lease, epoch)
	if !g.Epoch().Equal(epoch) {
		t.Fatalf("Epoch() = %v, want %v", g.Epoch(), epoch)
	}
	now := epoch.Add(time.Second)
	tests := []struct {
		name     string
		device   DeviceID
		captured time.Time
		want     error // nil: allowed
	}{
		{"captured at the epoch", "cam-a", epoch, nil},
		{"captured after the epoch", "cam-a", epoch.Add(time.Nanosecond), nil},
		{"captured a nanosecond before the epoch", "cam-a", epoch.Add(-time.Nanosecond), ErrBeforeEpoch},
		{"captured in the previous ownership", "cam-a", epoch.Add(-time.Hour), ErrBeforeEpoch},
		{"zero capture time", "cam-a", time.Time{}, ErrBeforeEpoch},
	}
	for _, tt := range tests {
		err := g.Check(tt.device, tt.captured, now)
		if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
		var ee *EpochError
		if tt.want != nil && (!errors.As(err, &ee) || !ee.Epoch.Equal(epoch) || !ee.Captured.Equal(tt.captured) ||
			ee.Device != tt.device) {
			t.Errorf("%s: %v is not an EpochError naming both times", tt.name, err)
		}
	}
	// Another device is a mismatch whatever the time; an ended grant is
	// refused as ended, not as a violation, however old the object.
	var mm *MismatchError
	if err := g.Check("cam-b", epoch.Add(-time.Hour), now); !errors.As(err, &mm) {
		t.Errorf("other device before the epoch: %v, want a MismatchError", err)
	}
	lease.Revoke()
	if err := g.Check("cam-a", epoch.Add(-time.Hour), now); !errors.Is(err, ErrGrantRevoked) {
		t.Errorf("revoked, before the epoch: %v, want ErrGrantRevoked", err)
	}
	if err := g.Live(now); !errors.Is(err, ErrGrantRevoked) {
		t.Errorf("Live after revoke: %v", err)
	}
	// Mint (tests, tools) has no epoch: any capture time passes.
	if err := i.Mint("u1", "cam-a", AudienceWeb, time.Minute).Check("cam-a", time.Time{}, now); err != nil {
		t.Errorf("Mint without epoch refused an old object: %v", err)
	}
}
