package main

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"vigil/internal/pgproc"
	"vigil/internal/testkit"
	"vigil/internal/vigilproc"
)

// TestClusterPostgresRestart: two nodes on a Postgres of their own, which
// is restarted (fast shutdown and start, as an operator's restart) while
// a camera pushes to A and a viewer reads it on B. Nothing stored is lost
// (the devices and users made before are all there), both nodes' /healthz
// come back to 200, the viewer on B sees the camera's own stamps again
// (its login reads the store), and a device added through a node after
// the restart is kept.
func TestClusterPostgresRestart(t *testing.T) {
	pg, err := pgproc.Start()
	if err != nil {
		t.Fatal(err) // never a skip: make test installs postgresql-15
	}
	t.Cleanup(pg.Stop)
	nodes := startCluster(t, pg.DSN("postgres"), 2)
	a, b := nodes[0], nodes[1]
	ctx := t.Context()
	var devs []deviceJSON
	for i := range 5 {
		var d deviceJSON
		if err := nodes[i%2].CLI(ctx, &d, "device", "add", "--name", fmt.Sprintf("cam %d", i), "--json"); err != nil {
			t.Fatal(err)
		}
		devs = append(devs, d)
	}
	dev := devs[0]
	onB := pushAndView(t, dev, a, b)

	began := time.Now()
	if err := pg.Restart(); err != nil {
		t.Fatal(err)
	}
	t.Logf("Postgres restarted in %v", time.Since(began).Round(time.Millisecond))
	for _, p := range nodes {
		testkit.WaitFor(t, 20*time.Second, p.Base()+" healthy again", func() error {
			code, body, err := healthz(ctx, p)
			if err != nil || code != http.StatusOK {
				return fmt.Errorf("%d %q, %v", code, body, err)
			}
			return nil
		})
	}
	ffmpegStamps(t, onB, dev.ID)
	t.Logf("B's viewer saw the camera again %v after the restart began", time.Since(began).Round(time.Millisecond))
	var added deviceJSON
	if err := b.CLI(ctx, &added, "device", "add", "--name", "after", "--json"); err != nil {
		t.Fatal(err)
	}
	devs = append(devs, added)
	stored := listedDevices(t, a)
	for _, d := range devs {
		if !slices.Contains(stored, d.ID) {
			t.Errorf("device %s (%s) lost across the restart; stored: %v", d.ID, d.Name, stored)
		}
	}
	m, err := a.Metrics(ctx, "vigil_isolation_violations_total")
	if err != nil || m["vigil_isolation_violations_total"] != 0 {
		t.Errorf("A's violations: %v, %v", m, err)
	}
}

// listedDevices returns the ids of the devices p's store holds.
func listedDevices(t *testing.T, p *vigilproc.Proc) []string {
	t.Helper()
	var list []deviceJSON
	if err := p.CLI(t.Context(), &list, "device", "list", "--json"); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range list {
		ids = append(ids, d.ID)
	}
	return ids
}
