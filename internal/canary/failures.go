package canary

import (
	"context"
	"errors"
	"io"
	"net"
	"regexp"
	"sort"
	"strings"
	"syscall"
)

// failClass names the class of a failed visit's error, for the report: a
// status with Vigil's message, a visit that ran out of time before its
// answer, a connection reset or refused, an answer cut short, or else the
// error's text with numbers and ids blanked (so that a class counts many).
func failClass(err error) string {
	var se *errStatus
	switch {
	case errors.As(err, &se):
		return se.class()
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return "no answer within the visit's time"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed before the answer"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "network timeout"
	}
	return blankIDs(err.Error())
}

var (
	idPattern    = regexp.MustCompile(`cam-[0-9a-z]+|canary-user-[0-9]+|u-[0-9a-z-]+|[0-9a-f]{8,}|\d+(\.\d+)*`)
	spacePattern = regexp.MustCompile(`\s+`)
)

// blankIDs replaces the ids and numbers of an error's text with "#", and
// bounds its length.
func blankIDs(s string) string {
	s = spacePattern.ReplaceAllString(idPattern.ReplaceAllString(s, "#"), " ")
	if len(s) > 90 {
		s = s[:90] + "…"
	}
	return s
}

// class is a status error's class: the status and the start of Vigil's
// message, ids blanked.
func (e *errStatus) class() string {
	msg := e.body
	if i := strings.IndexAny(msg, "\n"); i >= 0 {
		msg = msg[:i]
	}
	return blankIDs(strings.TrimSpace(e.status + " " + msg))
}

// fail records one failed visit of output.
func (c *checker) fail(output string, err error) {
	class := failClass(err)
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.failed[output]
	if f == nil {
		f = map[string]int64{}
		c.failed[output] = f
	}
	f[class]++
}

// moveOutput prefixes a move's kind where its failures are counted beside
// the outputs' (see checker.fail).
const moveOutput = "move: "

// FailClass is a class of failed visits and how many.
type FailClass struct {
	Class string
	N     int64
}

// topFailures returns an output's classes of failed visits, most first.
func topFailures(m map[string]int64) []FailClass {
	out := make([]FailClass, 0, len(m))
	for k, n := range m {
		out = append(out, FailClass{k, n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].N > out[j].N || out[i].N == out[j].N && out[i].Class < out[j].Class })
	return out
}
