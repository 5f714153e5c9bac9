package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"vigil/internal/access"
	"vigil/internal/config"
	"vigil/internal/store/sqlite"
)

func testConfig(t *testing.T) config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	return cfg
}

// cmdFor is a command whose settings are cfg's data_dir, public_host
// and rtsp_addr (all the device and user commands read), writing to out.
func cmdFor(cfg config.Config, out io.Writer) command {
	return command{flags: &config.Flags{}, stdio: stdio{in: strings.NewReader(""), out: out, err: io.Discard},
		environ: []string{"VIGIL_DATA_DIR=" + cfg.DataDir, "VIGIL_PUBLIC_HOST=" + cfg.PublicHost, "VIGIL_RTSP_ADDR=" + cfg.RTSPAddr}}
}

// run runs `vigil device args...` and returns its output.
func runCmd(t *testing.T, cfg config.Config, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := runDevice(t.Context(), cmdFor(cfg, &out), args)
	return out.String(), err
}

func mustRun(t *testing.T, cfg config.Config, args ...string) string {
	t.Helper()
	out, err := runCmd(t, cfg, args...)
	if err != nil {
		t.Fatalf("device %q: %v", args, err)
	}
	return out
}

func addJSON(t *testing.T, cfg config.Config, args ...string) deviceJSON {
	t.Helper()
	var d deviceJSON
	out := mustRun(t, cfg, append([]string{"add", "--json"}, args...)...)
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("add output %q: %v", out, err)
	}
	return d
}

func TestDeviceAddRotateRemove(t *testing.T) {
	cfg := testConfig(t)
	ctx := t.Context()
	d := addJSON(t, cfg, "--name", "front door")

	if _, err := access.ParseDeviceID(d.ID); err != nil || d.User != d.ID || d.Name != "front door" {
		t.Fatalf("add = %+v (%v)", d, err)
	}
	if want := "rtsp://127.0.0.1:8554/" + d.ID; d.PushURL != want {
		t.Errorf("push_url = %q, want %q", d.PushURL, want)
	}
	if fi, err := os.Stat(cfg.DataDir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("data dir: %v, %v; want mode 0700", fi, err)
	}

	// Rotate: "rotate ID --json" with the flag after the id.
	var r deviceJSON
	if err := json.Unmarshal([]byte(mustRun(t, cfg, "rotate", d.ID, "--json")), &r); err != nil {
		t.Fatal(err)
	}
	if r.ID != d.ID || r.Password == "" || r.Password == d.Password {
		t.Fatalf("rotate = %+v, want a new password for %s", r, d.ID)
	}

	st, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, "vigil.db"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.Device(ctx, access.DeviceID(d.ID))
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !got.Credential.CheckPassword(r.Password) || got.Credential.CheckPassword(d.Password) {
		t.Errorf("stored credential does not match the rotated password only")
	}
	assertNotOnDisk(t, cfg.DataDir, d.Password, r.Password)

	if out := mustRun(t, cfg, "remove", d.ID); out != "removed "+d.ID+"\n" {
		t.Errorf("remove printed %q", out)
	}
	_, err = runCmd(t, cfg, "remove", d.ID)
	if want := "device " + d.ID + " not found; run `vigil device list`"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("second remove = %v, want %q", err, want)
	}
}

// assertNotOnDisk checks that no file in dir (the database and its WAL)
// holds a password in plain text.
func assertNotOnDisk(t *testing.T, dir string, passwords ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range passwords {
			if bytes.Contains(b, []byte(p)) {
				t.Errorf("%s holds a password in plain text", e.Name())
			}
		}
	}
}

func TestDeviceHumanOutput(t *testing.T) {
	cfg := testConfig(t)
	cfg.PublicHost = "cams.example.com"
	cfg.RTSPAddr = "0.0.0.0:9554"

	if out := mustRun(t, cfg, "list"); !strings.Contains(out, "no devices; add one with `vigil device add --name NAME`") {
		t.Errorf("empty list printed %q", out)
	}
	out := mustRun(t, cfg, "add", "--name", "garden", "--source", "rtsp://admin:hunter2@192.0.2.10:554/stream1")
	lines := map[string]*regexp.Regexp{
		"id":       regexp.MustCompile(`(?m)^id +(cam-[a-z2-7]{10})$`),
		"push url": regexp.MustCompile(`(?m)^push url +rtsp://cams\.example\.com:9554/cam-[a-z2-7]{10}$`),
		"password": regexp.MustCompile(`(?m)^password +[a-z2-7]{32}$`),
		"source":   regexp.MustCompile(`(?m)^source +rtsp://\*\*\*@192\.0\.2\.10:554/stream1$`),
	}
	for name, re := range lines {
		t.Run("add "+name, func(t *testing.T) {
			if !re.MatchString(out) {
				t.Errorf("add output lacks %s line matching %s:\n%s", name, re, out)
			}
		})
	}
	id := lines["id"].FindStringSubmatch(out)[1]

	list := mustRun(t, cfg, "list")
	want := regexp.MustCompile(`(?m)^ID +NAME +OWNER +PUSH URL +SOURCE\n` + id + ` +garden +\(unclaimed\) +rtsp://cams\.example\.com:9554/` + id + ` +rtsp://\*\*\*@192\.0\.2\.10:554/stream1\n$`)
	if !strings.Contains(out, "claim code") {
		t.Errorf("add printed no claim code:\n%s", out)
	}
	if !want.MatchString(list) {
		t.Errorf("list printed\n%s", list)
	}
	var rows []deviceJSON
	if err := json.Unmarshal([]byte(mustRun(t, cfg, "list", "--json")), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].ID != id || rows[0].Password != "" || rows[0].Source != "rtsp://***@192.0.2.10:554/stream1" {
		t.Errorf("list --json = %+v", rows)
	}
	for _, s := range []string{list, mustRun(t, cfg, "list", "--json")} {
		if strings.Contains(s, "hunter2") || strings.Contains(s, "admin:") {
			t.Errorf("list leaks the source's credentials:\n%s", s)
		}
	}
}

func TestDeviceErrors(t *testing.T) {
	cfg := testConfig(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "device: missing command"},
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"add without name", []string{"add"}, "--name is required"},
		{"add blank name", []string{"add", "--name", "  "}, "--name is required"},
		{"add http source", []string{"add", "--name", "x", "--source", "http://u:secret@host/"}, `--source "http://***@host/": must be an rtsp:// or rtsps:// URL`},
		{"add source without host", []string{"add", "--name", "x", "--source", "rtsp:///path"}, "must be an rtsp:// or rtsps:// URL"},
		{"add extra argument", []string{"add", "--name", "x", "extra"}, "want 0 argument(s)"},
		{"unknown flag", []string{"list", "--color"}, "flag provided but not defined: -color"},
		{"remove has no --json", []string{"remove", "cam-abcdef", "--json"}, "flag provided but not defined: -json"},
		{"remove without id", []string{"remove"}, "want 1 argument(s)"},
		{"remove bad id", []string{"remove", "Bad ID!"}, "run `vigil device list` to see the ids"},
		{"rotate unknown", []string{"rotate", "cam-nothere"}, "device cam-nothere not found; run `vigil device list`"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runCmd(t, cfg, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
			if out != "" {
				t.Errorf("printed %q on error", out)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error leaks the source password: %v", err)
			}
		})
	}
}

func TestRedactSource(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"rtsp://192.0.2.1/s", "rtsp://192.0.2.1/s"},
		{"rtsp://user@192.0.2.1/s", "rtsp://***@192.0.2.1/s"},
		{"rtsps://u:p%40ss@[2001:db8::1]:322/s?x=1", "rtsps://***@[2001:db8::1]:322/s?x=1"},
		{"rtsp://u:p@host:bad port", "[unparsable URL]"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := redactSource(config.Secret(tt.in)); got != tt.want {
				t.Errorf("redactSource(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestDevicePushURLIsRTSPSWithTLS: with tls on, the printed push URL is
// rtsps:// on rtsps_addr.
func TestDevicePushURLIsRTSPSWithTLS(t *testing.T) {
	cfg := testConfig(t)
	var out bytes.Buffer
	c := cmdFor(cfg, &out)
	c.environ = append(c.environ, "VIGIL_TLS=files", "VIGIL_TLS_CERT_FILE=c.pem", "VIGIL_TLS_KEY_FILE=k.pem",
		"VIGIL_RTSPS_ADDR=:9322", "VIGIL_PUBLIC_HOST=cams.example.com")
	if err := runDevice(t.Context(), c, []string{"add", "--name", "gate", "--json"}); err != nil {
		t.Fatal(err)
	}
	var d deviceJSON
	if err := json.Unmarshal(out.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	if want := "rtsps://cams.example.com:9322/" + d.ID; d.PushURL != want {
		t.Fatalf("push_url = %q, want %q", d.PushURL, want)
	}
}
