package cluster

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/testkit"
)

// TestDrainReleasesStaggered: a draining node refuses new claims and
// releases the ones it holds spread over the window, not all at once;
// another node claims the cameras as they are released, and takes over
// the draining node's pulls at once.
func TestDrainReleasesStaggered(t *testing.T) {
	regs := openRegistries(t, startNodes(t, 2), RegistryConfig{Bucket: "homes_drain"})
	ctx := t.Context()
	cams := []access.DeviceID{"cam-a", "cam-b", "cam-c"}
	var claims []*Claim
	for _, cam := range cams {
		c, err := regs[0].Claim(ctx, cam, access.StreamMain)
		if err != nil {
			t.Fatal(err)
		}
		claims = append(claims, c)
	}
	if here, err := regs[0].Reserve(ctx, "cam-p"); err != nil || !here {
		t.Fatalf("node1 reserving the pull of cam-p: %v, %v", here, err)
	}
	if here, err := regs[1].Reserve(ctx, "cam-p"); err != nil || here {
		t.Fatalf("node2 reserving cam-p's pull, held by node1: %v, %v; want false", here, err)
	}
	fencedAt := make(chan time.Time, len(claims))
	for _, c := range claims {
		go func() { <-c.Fenced(); fencedAt <- time.Now() }()
	}
	const window = 900 * time.Millisecond
	began := time.Now()
	if n := regs[0].Drain(ctx, window); n != len(cams) {
		t.Fatalf("Drain released %d claims, want %d", n, len(cams))
	}
	if !regs[0].Draining() || regs[1].Draining() {
		t.Fatalf("draining: node1 %v, node2 %v; want node1 only", regs[0].Draining(), regs[1].Draining())
	}
	if _, err := regs[0].Claim(ctx, "cam-d", access.StreamMain); !errors.Is(err, ErrDraining) {
		t.Fatalf("a draining node's claim: %v, want ErrDraining", err)
	}
	if here, err := regs[0].Reserve(ctx, "cam-p"); err != nil || here {
		t.Fatalf("a draining node reserving a pull: %v, %v; want false", here, err)
	}
	if here, err := regs[1].Reserve(ctx, "cam-p"); err != nil || !here {
		t.Fatalf("node2 reserving cam-p's pull after node1 drained: %v, %v; want true at once", here, err)
	}
	var at []time.Duration
	for range claims {
		at = append(at, (<-fencedAt).Sub(began))
	}
	slices.Sort(at)
	t.Logf("claims fenced at %v over a %v window", at, window)
	gap := window / time.Duration(len(cams))
	for i := 1; i < len(at); i++ {
		if at[i]-at[i-1] < gap/2 {
			t.Fatalf("claims released %v apart, want about %v (staggered): %v", at[i]-at[i-1], gap, at)
		}
	}
	for _, cam := range cams {
		testkit.WaitFor(t, 2*time.Second, "no home of "+string(cam)+" after the drain", func() error {
			if home, err := regs[1].Home(ctx, cam, access.StreamMain); err != nil || home != "" {
				return fmt.Errorf("home = %q, %v", home, err)
			}
			return nil
		})
		if _, err := regs[1].Claim(ctx, cam, access.StreamMain); err != nil {
			t.Fatalf("node2 claiming %s after the drain: %v", cam, err)
		}
	}
}
