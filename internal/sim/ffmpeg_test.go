package sim

import (
	"bytes"
	"context"
	"os/exec"
	"testing"
	"time"
)

// ffmpeg runs ffmpeg with args and returns its stdout; anything on stderr
// (it runs with -v error) fails the test.
func ffmpeg(t *testing.T, args ...string) []byte {
	t.Helper()
	path, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Fatal("ffmpeg not found: run `make test`, which installs it")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, append([]string{"-nostdin", "-hide_banner", "-v", "error"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ffmpeg %q: %v\n%s", args, err, stderr.Bytes())
	}
	if stderr.Len() > 0 {
		t.Fatalf("ffmpeg %q reported errors:\n%s", args, stderr.Bytes())
	}
	return stdout.Bytes()
}

// ffmpegTrace runs ffmpeg at -v trace and returns what it logged.
func ffmpegTrace(t *testing.T, args ...string) string {
	t.Helper()
	path, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Fatal("ffmpeg not found: run `make test`, which installs it")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, append([]string{"-nostdin", "-hide_banner", "-v", "trace"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg %q: %v\n%s", args, err, out)
	}
	return string(out)
}
