package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"vigil/internal/sim"
)

// vigilCmd runs the binary with env added and returns stdout, stderr. It
// kills the command after a minute (a server that should have refused to
// start).
func vigilCmd(t *testing.T, bin string, env []string, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// TestBackupRestoreRoundTrip: an online backup of a running Vigil,
// restored into a fresh directory, serves the camera's viewer; the known
// password of a pull camera is in neither the database files nor the
// backup. Also: a second server on a data directory in use refuses to
// start naming the holder's pid, and settings after `serve` apply.
func TestBackupRestoreRoundTrip(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Fatal("ffmpeg is missing: run `make test`, which installs it")
	}
	const camPassword = "Kn0wn-Cam-Pa55"
	bin := buildVigil(t)
	udp := 40000 + 4*(os.Getpid()%5000)
	s1 := &server{bin: bin, dir: t.TempDir(), rtspPort: freePort(t), httpPt: freePort(t)}
	s1.env = []string{"VIGIL_DATA_DIR=" + s1.dir, "VIGIL_ADMIN_PASSWORD=backup-admin"}
	// Settings after the command: the server must bind these to be healthy.
	s1.args = []string{"--rtsp-addr", fmt.Sprintf("127.0.0.1:%d", s1.rtspPort), "--http-addr", fmt.Sprintf("127.0.0.1:%d", s1.httpPt),
		"--rtsp-udp-rtp-addr", fmt.Sprintf("127.0.0.1:%d", udp), "--rtsp-udp-rtcp-addr", fmt.Sprintf("127.0.0.1:%d", udp+1)}
	s1.start(t)
	defer s1.kill9()

	_, stderr, err := vigilCmd(t, bin, nil, "serve", "--data-dir", s1.dir, "--http-addr", "127.0.0.1:0", "--rtsp-addr", "127.0.0.1:0")
	if want := "pid " + strconv.Itoa(s1.cmd.Process.Pid); err == nil || !strings.Contains(stderr, want) {
		t.Fatalf("second server on the same data directory: %v, %q; want a refusal naming %q", err, stderr, want)
	}

	out, _, err := vigilCmd(t, bin, s1.env, "device", "add", "--name", "porch", "--json")
	if err != nil {
		t.Fatalf("device add: %v", err)
	}
	var dev struct{ ID, Password string }
	if err := json.Unmarshal([]byte(out), &dev); err != nil {
		t.Fatal(err)
	}
	if _, stderr, err := vigilCmd(t, bin, s1.env, "device", "add", "--name", "hall",
		"--source", "rtsp://admin:"+camPassword+"@127.0.0.1:1/Streaming/Channels/101"); err != nil {
		t.Fatalf("device add --source: %v %s", err, stderr)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cam := &sim.Camera{ID: dev.ID, Key: sim.CameraKey([]byte("restart secret"), dev.ID), FPS: 15,
		URL: fmt.Sprintf("rtsp://%s:%s@127.0.0.1:%d/%s", dev.ID, dev.Password, s1.rtspPort, dev.ID)}
	go cam.Run(ctx)
	readStamps(t, fmt.Sprintf("rtsp://admin:backup-admin@127.0.0.1:%d/%s", s1.rtspPort, dev.ID), dev.ID)

	file := filepath.Join(t.TempDir(), "vigil.backup")
	pass := "VIGIL_BACKUP_PASSPHRASE=a long backup passphrase"
	if _, stderr, err := vigilCmd(t, bin, append(s1.env, pass), "backup", file); err != nil {
		t.Fatalf("backup while serving: %v %s", err, stderr)
	}
	s1.kill9()
	cancel()

	dir2 := filepath.Join(t.TempDir(), "restored")
	if _, _, err := vigilCmd(t, bin, []string{"VIGIL_BACKUP_PASSPHRASE=not the passphrase"}, "restore", file, "--data-dir", dir2); err == nil {
		t.Fatal("restore with a wrong passphrase succeeded")
	}
	if _, stderr, err := vigilCmd(t, bin, []string{pass}, "restore", file, "--data-dir", dir2); err != nil {
		t.Fatalf("restore: %v %s", err, stderr)
	}
	if _, stderr, err := vigilCmd(t, bin, []string{pass}, "restore", file, "--data-dir", dir2); err == nil || !strings.Contains(stderr, "not empty") {
		t.Fatalf("restore over a restored directory: %v %q, want a refusal", err, stderr)
	}
	for _, f := range []string{file, filepath.Join(dir2, "vigil.db"), filepath.Join(dir2, "vigil.db-wal")} {
		if b, _ := os.ReadFile(f); bytes.Contains(b, []byte(camPassword)) {
			t.Errorf("%s holds the camera's password in clear", f)
		}
	}

	s2 := &server{bin: bin, dir: dir2, rtspPort: freePort(t), httpPt: freePort(t)}
	s2.env = []string{"VIGIL_DATA_DIR=" + dir2, "VIGIL_ADMIN_PASSWORD=backup-admin",
		fmt.Sprintf("VIGIL_RTSP_ADDR=127.0.0.1:%d", s2.rtspPort), fmt.Sprintf("VIGIL_HTTP_ADDR=127.0.0.1:%d", s2.httpPt),
		fmt.Sprintf("VIGIL_RTSP_UDP_RTP_ADDR=127.0.0.1:%d", udp+2), fmt.Sprintf("VIGIL_RTSP_UDP_RTCP_ADDR=127.0.0.1:%d", udp+3)}
	s2.start(t)
	defer s2.kill9()
	list, _, err := vigilCmd(t, bin, s2.env, "device", "list")
	if err != nil || !strings.Contains(list, "hall") || !strings.Contains(list, "rtsp://***@127.0.0.1:1/") {
		t.Fatalf("restored device list: %v\n%s", err, list)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	cam2 := &sim.Camera{ID: dev.ID, Key: sim.CameraKey([]byte("restart secret"), dev.ID), FPS: 15,
		URL: fmt.Sprintf("rtsp://%s:%s@127.0.0.1:%d/%s", dev.ID, dev.Password, s2.rtspPort, dev.ID)}
	go cam2.Run(ctx2)
	readStamps(t, fmt.Sprintf("rtsp://admin:backup-admin@127.0.0.1:%d/%s", s2.rtspPort, dev.ID), dev.ID)
}

// TestGeneratedAdminPasswordNotLogged: without a terminal, the generated
// admin password goes to a private file, never to the log, and works.
func TestGeneratedAdminPasswordNotLogged(t *testing.T) {
	bin := buildVigil(t)
	dir := t.TempDir()
	httpPort := freePort(t)
	udp := 45000 + 4*(os.Getpid()%4000)
	cmd := exec.Command(bin, "serve", "--data-dir", dir, "--http-addr", fmt.Sprintf("127.0.0.1:%d", httpPort), "--rtsp-addr", "127.0.0.1:0",
		"--rtsp-udp-rtp-addr", fmt.Sprintf("127.0.0.1:%d", udp), "--rtsp-udp-rtcp-addr", fmt.Sprintf("127.0.0.1:%d", udp+1))
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cmd.Process.Kill()
			cmd.Wait() // after this, logs is no longer written
		}
	}
	defer stop()
	s := &server{httpPt: httpPort}
	waitHealthy(t, s)
	path := filepath.Join(dir, adminPasswordFile)
	b, err := os.ReadFile(path)
	if err != nil {
		stop()
		t.Fatalf("no password file: %v; log:\n%s", err, logs.String())
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("password file mode %04o, want 0600", fi.Mode().Perm())
	}
	pw := strings.TrimSpace(string(b))
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/metrics", httpPort), nil)
	req.SetBasicAuth("admin", pw)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("metrics with the generated password: %d", res.StatusCode)
	}
	stop()
	if strings.Contains(logs.String(), pw) {
		t.Fatalf("the admin password is in the log:\n%s", logs.String())
	}
}

// TestCLIConventions: -h after a command prints every setting with its
// default and succeeds; unknown flags fail; version prints.
func TestCLIConventions(t *testing.T) {
	for _, args := range [][]string{{"serve", "-h"}, {"-h"}, {"help"}, {"backup", "-h"}} {
		var out bytes.Buffer
		if err := run(t.Context(), args, nil, stdio{out: &out, err: &out}); err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		for _, want := range []string{"--http-addr  (VIGIL_HTTP_ADDR, http_addr)", `(default: ":8080")`, "(default: 10s)", "--data-dir"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%q printed no %q", args, want)
			}
		}
	}
	for _, args := range [][]string{{"serve", "--no-such-flag"}, {"--no-such-flag"}, {"device", "list", "--bogus"}, {"serve", "extra"}} {
		var out bytes.Buffer
		err := run(t.Context(), args, []string{"VIGIL_DATA_DIR=" + t.TempDir()}, stdio{out: &out, err: &out})
		if err == nil {
			t.Errorf("%q succeeded", args)
		}
	}
	var out bytes.Buffer
	if err := run(t.Context(), []string{"version"}, nil, stdio{out: &out, err: &out}); err != nil || !strings.HasPrefix(out.String(), "vigil ") {
		t.Errorf("version: %q, %v", out.String(), err)
	}
}
