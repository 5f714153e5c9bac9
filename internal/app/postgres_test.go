package app

import (
	"context"
	"testing"
	"time"

	"vigil/internal/config"
	"vigil/internal/store/postgres"
	"vigil/internal/testkit/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestPostgresRevocationFromAnotherNode: with store: postgres, a viewer
// watches a shared camera over RTSP, progressive MP4 and LL-HLS; another
// node (a second store on the same database) disables the account, and
// every output stops delivering within a second: the revocation reaches
// this server through the database's log, woken by its notification.
func TestPostgresRevocationFromAnotherNode(t *testing.T) {
	needFFmpeg(t)
	dsn := pgtest.NewDatabase(t)
	a := startApp(t, "", func(c *config.Config) { c.Store, c.StoreDSN = config.StorePostgres, config.Secret(dsn) })
	other, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.UserByName(t.Context(), AdminName); err != nil {
		t.Fatalf("the app's admin is not in Postgres: %v", err)
	}
	cam := a.addCamera(t, "porch")
	a.run(t, cam)
	a.addUser(t, "olga")
	viewerPW := a.addUser(t, "vera")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	claimFor(t, a, cam, "olga")
	if err := a.auth.Share(ctx, a.callerNamed(ctx, "olga"), deviceID(cam), "vera", time.Time{}, a.households()); err != nil {
		t.Fatal(err)
	}
	ds := watchEverywhere(ctx, t, a, cam, "vera", viewerPW)
	revoked := time.Now()
	if err := other.SetUserDisabled(ctx, "u-vera", true); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	for _, d := range ds {
		after := time.Duration(d.last.Load() - revoked.UnixNano())
		t.Logf("%s: last delivery %v after the revocation", d.name, after.Round(time.Millisecond))
		if after > time.Second {
			t.Errorf("%s still delivered %v after the revocation", d.name, after)
		}
	}
}

// TestPostgresRecording: with store: postgres and record on, a camera's
// stream is recorded and indexed in Postgres; the timeline lists it and it
// downloads, by Range too, with the camera's stamps only.
func TestPostgresRecording(t *testing.T) {
	needFFmpeg(t)
	dsn := pgtest.NewDatabase(t)
	a := startApp(t, "", func(c *config.Config) {
		c.Store, c.StoreDSN = config.StorePostgres, config.Secret(dsn)
		c.Record, c.RecordSegment = true, 2*time.Second
	})
	cam := a.addCamera(t, "porch")
	cam.GOP = cam.FPS / 2
	a.run(t, cam)
	spans := a.recordedSpans(t, cam.ID)
	checkDownload(t, a, spans[0], cam.ID)
}
