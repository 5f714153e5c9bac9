package blobtest

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
)

// A real S3-compatible server, started by the test: the suite must pass
// against an implementation that is not our client's or gofakes3's idea of
// S3. scripts/deps.sh installs them; under CI a missing one fails.
type Server struct {
	// Name is the program's.
	Name string
	// Command finds the program.
	Command func() (string, error)
	// args starts it on 127.0.0.1:port with data in dir; extra are more
	// free ports it may need.
	args func(dir string, port int, extra []int) []string
	// Access and Secret are credentials it accepts.
	Access, Secret string
}

// Servers are the real S3-compatible servers the suite runs against.
var Servers = []Server{
	{
		// s3rver (npm): an independent S3 implementation in Node.js; it
		// accepts only its own fixed credentials.
		Name:    "s3rver",
		Command: func() (string, error) { return exec.LookPath("s3rver") },
		args: func(dir string, port int, _ []int) []string {
			return []string{"-d", dir, "-a", "127.0.0.1", "-p", strconv.Itoa(port), "--silent"}
		},
		Access: "S3RVER", Secret: "S3RVER",
	},
	{
		// SeaweedFS's weed, built from the Go module proxy by
		// scripts/deps.sh when VIGIL_WEED=1 (it takes long: see the README).
		Name:    "seaweedfs",
		Command: findWeed,
		args: func(dir string, port int, p []int) []string {
			return []string{"server", "-dir=" + dir, "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-master.telemetry=false",
				"-master.port=" + strconv.Itoa(p[0]), "-master.port.grpc=" + strconv.Itoa(p[1]),
				"-volume.port=" + strconv.Itoa(p[2]), "-volume.port.grpc=" + strconv.Itoa(p[3]),
				"-filer", "-filer.port=" + strconv.Itoa(p[4]), "-filer.port.grpc=" + strconv.Itoa(p[5]),
				"-s3", "-s3.port=" + strconv.Itoa(port), "-s3.port.grpc=" + strconv.Itoa(p[6]),
				// A bucket is a collection that grows volumes of its own:
				// many small ones, since each subtest makes a bucket.
				"-s3.port.iceberg=0", "-s3.port.lance=0", "-master.volumeSizeLimitMB=8", "-volume.max=200"}
		},
		Access: "any", Secret: "any",
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
func freePorts(t testing.TB, n int) []int {
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

// Start runs the server at path until the test ends and returns its
// endpoint once it answers S3.
func (s Server) Start(t testing.TB, path string) string {
	t.Helper()
	ports := freePorts(t, 8)
	cmd := exec.Command(path, s.args(t.TempDir(), ports[0], ports[1:])...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logPath := filepath.Join(t.TempDir(), s.Name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", s.Name, err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the group: weed forks nothing, s3rver's node may
		cmd.Wait()
		logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("%s log:\n%s", s.Name, b[max(0, len(b)-4000):])
		}
	})
	endpoint := fmt.Sprintf("127.0.0.1:%d", ports[0])
	deadline := time.Now().Add(90 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := blob.NewS3(ctx, blob.S3Config{Endpoint: endpoint, Region: "us-east-1", AccessKey: s.Access,
			SecretKey: s.Secret, Bucket: "vigil-ready"})
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not answer S3 within 90 s: %v", s.Name, err)
		}
		time.Sleep(100 * time.Millisecond) // polling a starting process
	}
	return endpoint
}

// Required reports whether a missing server fails a test: under CI=true,
// s3rver always (scripts/deps.sh installs it), weed when VIGIL_WEED=1.
func (s Server) Required() bool {
	return os.Getenv("CI") == "true" && (s.Name == "s3rver" || os.Getenv("VIGIL_WEED") == "1")
}
