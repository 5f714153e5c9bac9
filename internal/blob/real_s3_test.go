package blob_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"vigil/internal/blob"
	"vigil/internal/blob/blobtest"
	"vigil/internal/testkit"
)

// A real S3-compatible server, started by the test: the suite must pass
// against an implementation that is not our client's or gofakes3's idea of
// S3. scripts/deps.sh installs them; under CI a missing one fails.
type s3Server struct {
	name string
	// command finds the program.
	command func() (string, error)
	// args starts it on 127.0.0.1:port with data in dir; extra are more
	// free ports it may need.
	args func(dir string, port int, extra []int) []string
	// access and secret are credentials it accepts.
	access, secret string
}

var s3Servers = []s3Server{
	{
		// s3rver (npm): an independent S3 implementation in Node.js; it
		// accepts only its own fixed credentials.
		name:    "s3rver",
		command: func() (string, error) { return exec.LookPath("s3rver") },
		args: func(dir string, port int, _ []int) []string {
			return []string{"-d", dir, "-a", "127.0.0.1", "-p", strconv.Itoa(port), "--silent"}
		},
		access: "S3RVER", secret: "S3RVER",
	},
	{
		// SeaweedFS's weed, built from the Go module proxy by
		// scripts/deps.sh when VIGIL_WEED=1 (it takes long: see the README).
		name:    "seaweedfs",
		command: findWeed,
		args: func(dir string, port int, p []int) []string {
			return []string{"server", "-dir=" + dir, "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-master.telemetry=false",
				"-master.port=" + strconv.Itoa(p[0]), "-master.port.grpc=" + strconv.Itoa(p[1]),
				"-volume.port=" + strconv.Itoa(p[2]), "-volume.port.grpc=" + strconv.Itoa(p[3]),
				"-filer", "-filer.port=" + strconv.Itoa(p[4]), "-filer.port.grpc=" + strconv.Itoa(p[5]),
				"-s3", "-s3.port=" + strconv.Itoa(port), "-s3.port.grpc=" + strconv.Itoa(p[6]),
				"-s3.port.iceberg=0", "-s3.port.lance=0", "-master.volumeSizeLimitMB=64", "-volume.max=4"}
		},
		access: "any", secret: "any",
	},
}

// findWeed looks for weed on PATH, then in GOPATH/bin where deps.sh puts it.
func findWeed() (string, error) {
	if p, err := exec.LookPath("weed"); err == nil {
		return p, nil
	}
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err != nil {
		return "", err
	}
	p := filepath.Join(string(trimNL(out)), "bin", "weed")
	if _, err := os.Stat(p); err != nil {
		return "", err
	}
	return p, nil
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// freePorts returns n ports that were free a moment ago.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// start runs the server until the test ends and returns its endpoint.
func (s s3Server) start(t *testing.T, path string) string {
	t.Helper()
	ports := freePorts(t, 8)
	cmd := exec.Command(path, s.args(t.TempDir(), ports[0], ports[1:])...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logPath := filepath.Join(t.TempDir(), s.name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", s.name, err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the group: weed forks nothing, s3rver's node may
		cmd.Wait()
		logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("%s log:\n%s", s.name, b[max(0, len(b)-4000):])
		}
	})
	endpoint := fmt.Sprintf("127.0.0.1:%d", ports[0])
	testkit.WaitFor(t, 90*time.Second, s.name+" answers S3", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := blob.NewS3(ctx, blob.S3Config{Endpoint: endpoint, Region: "us-east-1", AccessKey: s.access,
			SecretKey: s.secret, Bucket: "vigil-ready"})
		return err
	})
	return endpoint
}

// TestRealS3 runs the suite against real S3-compatible servers. Under
// CI=true s3rver must be there (scripts/deps.sh installs it); weed only
// when VIGIL_WEED=1 asked deps.sh to build it.
func TestRealS3(t *testing.T) {
	for _, s := range s3Servers {
		t.Run(s.name, func(t *testing.T) {
			path, err := s.command()
			if err != nil {
				required := os.Getenv("CI") == "true" && (s.name == "s3rver" || os.Getenv("VIGIL_WEED") == "1")
				if required {
					t.Fatalf("%s is missing (%v): run scripts/deps.sh, which installs it", s.name, err)
				}
				t.Skipf("%s is not installed (scripts/deps.sh installs it)", s.name)
			}
			endpoint := s.start(t, path)
			blobtest.Run(t, func(t *testing.T) blob.Store { return newS3(t, endpoint, s.access, s.secret) })
		})
	}
}
