package canary

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"
)

func TestFailClass(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{&errStatus{code: 503, status: "503 Service Unavailable", body: "camera cam-ab12cd34ef is offline\nmore"}, "# Service Unavailable camera # is offline"},
		{fmt.Errorf("GET /x: %w", context.DeadlineExceeded), "no answer within the visit's time"},
		{fmt.Errorf("read: %w", syscall.ECONNRESET), "connection reset"},
		{fmt.Errorf("rtsp: %w", io.ErrUnexpectedEOF), "connection closed before the answer"},
		{errors.New("bad status code: 404 (Not Found) for canary-user-012"), "bad status code: # (Not Found) for #"},
	} {
		if got := failClass(c.err); got != c.want {
			t.Errorf("failClass(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}
