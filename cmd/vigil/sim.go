package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"vigil/internal/access"
	"vigil/internal/auth"
	"vigil/internal/config"
	"vigil/internal/seal"
	"vigil/internal/sim"
	"vigil/internal/store"
	"vigil/internal/store/backend"
)

// runSim provisions N simulated cameras in the data directory (named sim-1 …
// sim-N, created once, their passwords rotated at every start) and publishes
// them to a running Vigil until ctx ends.
func runSim(ctx context.Context, c command, args []string) error {
	fs := c.flagSet("sim")
	stderr := c.err
	n := fs.Int("cameras", 3, "number of cameras")
	server := fs.String("server", "rtsp://127.0.0.1:8554", "Vigil's RTSP address")
	ids := fs.String("ids", "", "write `FILE` with one line per camera: id and name")
	fps := fs.Int("fps", 15, "frames per second")
	width := fs.Int("width", 320, "picture width (multiple of 16)")
	height := fs.Int("height", 240, "picture height (multiple of 16)")
	clip := fs.String("clip", "", "publish this Annex-B H.264 `FILE` in a loop instead of the generated picture")
	audio := fs.Bool("audio", false, "add a G.711 audio track")
	udp := fs.Bool("udp", false, "publish RTP over UDP instead of TCP")
	owner := fs.String("owner", "", "give the cameras to this `user` (as if they had claimed them)")
	shareWith := fs.String("share-first-with", "", "share the first camera with this `user`")
	pos, err := c.parse(fs, args, "usage: vigil sim --cameras N [--server rtsp://host:port] [...]\n")
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("sim: unexpected argument %q; run `vigil sim -h` for help", pos[0])
	}
	cfg, err := c.config()
	if err != nil {
		return err
	}
	if *n < 1 {
		return errors.New("sim: --cameras must be at least 1")
	}
	base, err := url.Parse(*server)
	if err != nil || base.Scheme != "rtsp" || base.Host == "" {
		return fmt.Errorf("sim: --server %q must be rtsp://host:port", *server)
	}
	var units []sim.ClipUnit
	if *clip != "" {
		if units, err = sim.LoadClip(*clip); err != nil {
			return fmt.Errorf("sim: %w", err)
		}
	}
	secret, err := seal.LoadOrCreateMasterKey(filepath.Join(cfg.DataDir, "sim-stamp.key"))
	if err != nil {
		return fmt.Errorf("sim: stamp key: %w", err)
	}
	creds, err := provisionSim(ctx, cfg, *n, *owner, *shareWith)
	if err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	log := cfg.Logger(stderr)
	var cams []*sim.Camera
	var list strings.Builder
	for _, c := range creds {
		u := *base
		u.User = url.UserPassword(c.id, c.password)
		u.Path = "/" + c.id
		cams = append(cams, &sim.Camera{URL: u.String(), ID: c.id, Key: sim.CameraKey(secret, c.id),
			Width: *width, Height: *height, FPS: *fps, Audio: *audio, UDP: *udp, Clip: units,
			Logger: log})
		fmt.Fprintf(&list, "%s %s\n", c.id, c.name)
	}
	if *ids != "" {
		if err := os.WriteFile(*ids, []byte(list.String()), 0o600); err != nil {
			return fmt.Errorf("sim: --ids: %w", err)
		}
	}
	log.Info("simulated cameras publishing", "cameras", len(cams), "server", base.Host)
	return sim.RunMany(ctx, cams)
}

type simCredential struct {
	id, name, password string
}

func provisionSim(ctx context.Context, cfg config.Config, n int, owner, shareWith string) ([]simCredential, error) {
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	devs, err := st.Devices(ctx)
	if err != nil {
		return nil, err
	}
	byName := map[string]store.Device{}
	for _, d := range devs {
		byName[d.Name] = d
	}
	var out []simCredential
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("sim-%d", i)
		password, err := auth.NewPassword()
		if err != nil {
			return nil, err
		}
		d, ok := byName[name]
		if ok {
			err = st.SetDeviceCredential(ctx, d.ID, auth.HashCredential(string(d.ID), password))
		} else {
			d, err = createDevice(ctx, st, name, "", password, "")
		}
		if err != nil {
			return nil, err
		}
		out = append(out, simCredential{id: string(d.ID), name: name, password: password})
	}
	if owner != "" {
		if err := giveSim(ctx, st, out, owner, shareWith); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// giveSim makes owner the owner of the simulated cameras (dropping any other
// binding they had) and shares the first one with shareWith.
func giveSim(ctx context.Context, st backend.Store, cams []simCredential, owner, shareWith string) error {
	o, err := st.UserByName(ctx, owner)
	if err != nil {
		return fmt.Errorf("--owner %s: %w; create it with `vigil user add --name %s`", owner, err, owner)
	}
	for _, c := range cams {
		code, err := auth.NewClaimCode()
		if err != nil {
			return err
		}
		if err := st.ResetDevice(ctx, access.DeviceID(c.id), auth.ClaimHash(code)); err != nil {
			return err
		}
		if _, err := st.ClaimDevice(ctx, auth.ClaimHash(code), o.ID); err != nil {
			return err
		}
	}
	if shareWith == "" {
		return nil
	}
	v, err := st.UserByName(ctx, shareWith)
	if err != nil {
		return fmt.Errorf("--share-first-with %s: %w", shareWith, err)
	}
	return st.PutShare(ctx, store.Share{Device: access.DeviceID(cams[0].id), Viewer: v.ID})
}
