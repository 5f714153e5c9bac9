package vigilproc

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestProc builds the module's vigil once (linking it is most of the
// test's time) and drives it.
func TestProc(t *testing.T) {
	bin, err := Build(context.Background(), "../..", t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("lifecycle", func(t *testing.T) { testLifecycle(t, bin) })
	t.Run("start fails with the log", func(t *testing.T) { testStartFails(t, bin) })
}

// testLifecycle drives a real vigil: a subcommand before it runs, a start
// whose HTTP port another program has taken (it moves to new ports), a
// kill -9 and a restart on the same ports, its metrics and its log, and
// a stop.
func testLifecycle(t *testing.T, bin string) {
	ctx := context.Background()
	dir := t.TempDir()
	p, err := New(Config{Bin: bin, Data: filepath.Join(dir, "data"), Log: filepath.Join(dir, "vigil.log")})
	if err != nil {
		t.Fatal(err)
	}
	var dev struct{ ID string }
	if err := p.CLI(ctx, &dev, "device", "add", "--name", "porch", "--json"); err != nil || dev.ID == "" {
		t.Fatalf("device add = %+v, %v", dev, err)
	}
	taken, err := net.Listen("tcp", p.HTTP())
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	if err := p.Start(ctx); err != nil {
		t.Fatalf("start beside a taken port: %v", err)
	}
	defer p.Kill9()
	if p.HTTP() == taken.Addr().String() {
		t.Fatal("still on the taken port")
	}
	rtsp, http, pid := p.RTSP(), p.HTTP(), p.PID()
	m, err := p.Metrics(ctx, "vigil_isolation_violations_total")
	if v, ok := m["vigil_isolation_violations_total"]; err != nil || !ok || v != 0 {
		t.Fatalf("metrics = %v, %v; want the violations counter at 0", m, err)
	}
	if err := p.Restart(ctx); err != nil {
		t.Fatalf("restart: %v", err)
	}
	if p.RTSP() != rtsp || p.HTTP() != http || p.PID() == pid || p.PID() == 0 {
		t.Fatalf("after restart: %s %s pid %d; want %s %s and a new pid (was %d)", p.RTSP(), p.HTTP(), p.PID(), rtsp, http, pid)
	}
	if processAlive(pid) {
		t.Errorf("the killed process %d is still alive", pid)
	}
	p.Stop()
	if p.PID() != 0 {
		t.Fatal("PID after Stop is not 0")
	}
	if len(p.LogLines("level=")) == 0 {
		t.Fatalf("no slog lines in the log; it ends:\n%s", p.LogTail(10))
	}
}

// processAlive reports whether pid names a process not yet reaped.
func processAlive(pid int) bool {
	_, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid)))
	return err == nil
}

// testStartFails: a vigil that cannot start says why, with the
// end of its log, and is not left running.
func testStartFails(t *testing.T, bin string) {
	dir := t.TempDir()
	p, err := New(Config{Bin: bin, Data: filepath.Join(dir, "data"), Log: filepath.Join(dir, "vigil.log"),
		Env: []string{"VIGIL_TLS=nonsense"}})
	if err != nil {
		t.Fatal(err)
	}
	err = p.Start(context.Background())
	if !errors.Is(err, ErrExited) || !strings.Contains(err.Error(), "nonsense") {
		t.Fatalf("Start = %v; want ErrExited with the log's complaint about the setting", err)
	}
	if p.PID() != 0 {
		t.Fatal("a failed start left a process behind")
	}
}

func TestReadLevels(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.log")
	log := "time=1 level=INFO msg=up\ntime=2 level=WARN msg=slow\nplain line\ntime=3 level=ERROR msg=bad\ntime=4 level=WARN msg=again\n"
	if err := os.WriteFile(path, []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}
	got := ReadLevels(path)
	want := Levels{Warn: 2, Error: 1, Other: 1, Sample: "time=3 level=ERROR msg=bad"}
	if got != want {
		t.Fatalf("ReadLevels = %+v, want %+v", got, want)
	}
	if got := ReadLevels(filepath.Join(t.TempDir(), "missing.log")); got != (Levels{}) {
		t.Fatalf("ReadLevels of a missing log = %+v", got)
	}
}
