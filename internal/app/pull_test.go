package app

import (
	"context"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/auth"
	"vigil/internal/config"
	"vigil/internal/seal"
	"vigil/internal/store"
	"vigil/internal/store/sqlite"
	"vigil/internal/testkit"
)

// TestPullCameraAndReconnect has one Vigil pull a camera from another (an
// RTSP camera as far as it knows), then restarts the source: the puller
// reconnects by itself and viewers get the camera's own stamps both times.
func TestPullCameraAndReconnect(t *testing.T) {
	source := startApp(t, "", nil)
	cam := source.addCamera(t, "upstream")
	source.run(t, cam)
	sourceDir, sourceAddr := source.cfg.DataDir, source.RTSPAddr().String()

	// The puller's data directory holds a pull device before it starts.
	dir := t.TempDir()
	master, err := seal.LoadOrCreateMasterKey(dir + "/master.key")
	if err != nil {
		t.Fatal(err)
	}
	secrets, _ := seal.NewSecrets(master)
	st, err := sqlite.Open(context.Background(), dir+"/vigil.db", sqlite.WithSecrets(secrets))
	if err != nil {
		t.Fatal(err)
	}
	pulled, _ := store.NewDeviceID()
	pw, _ := auth.NewPassword()
	src := config.Secret(source.rtspURL(AdminName, adminPassword, cam.ID))
	if err := st.CreateDevice(context.Background(), store.Device{ID: pulled, Name: "pulled", Source: src,
		Credential: auth.HashCredential(string(pulled), pw)}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	puller := startApp(t, dir, nil)
	puller.waitOnline(t, pulled)

	check := func(when string) {
		t.Helper()
		url := puller.rtspURL(AdminName, adminPassword, string(pulled))
		testkit.WaitFor(t, 30*time.Second, "readable stream at "+when, func() error {
			chk, err := readStamps(url, "tcp", 15)
			if err != nil {
				return err
			}
			if err = chk.Only(cam.ID); err != nil {
				t.Fatalf("%s: stamps %v: %v", when, chk.Counts(), err)
			}
			return nil
		})
	}
	check("first connection")

	// The source restarts on the same address; the camera and the puller reconnect.
	source.stop()
	restarted := startApp(t, sourceDir, func(c *config.Config) { c.RTSPAddr = sourceAddr })
	restarted.waitOnline(t, access.DeviceID(cam.ID))
	check("after the source restarted")
}
