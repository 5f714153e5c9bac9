package vigilproc

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
)

// Metrics reads /metrics as the admin and sums the samples of each named
// metric over its labels; a metric with no samples is absent from the map.
func (p *Proc) Metrics(ctx context.Context, names ...string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.Base()+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth("admin", p.adminPW)
	res, err := p.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("metrics: %s", res.Status)
	}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	return SumMetrics(sc, names...)
}

// SumMetrics adds up the samples of each named metric in Prometheus text
// format; a metric with no samples is absent from the map.
func SumMetrics(sc *bufio.Scanner, names ...string) (map[string]float64, error) {
	sums := map[string]float64{}
	for sc.Scan() {
		line := sc.Text()
		for _, name := range names {
			rest, ok := strings.CutPrefix(line, name)
			if !ok || rest == "" || (rest[0] != '{' && rest[0] != ' ') {
				continue
			}
			f := strings.Fields(line)
			x, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err != nil {
				return nil, fmt.Errorf("metrics: %q: %w", line, err)
			}
			sums[name] += x
		}
	}
	return sums, sc.Err()
}

// LogLines returns the lines of the process's log that contain substr.
func (p *Proc) LogLines(substr string) []string {
	b, err := os.ReadFile(p.cfg.Log)
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return out
}

// LogTail returns the last n lines of the process's log.
func (p *Proc) LogTail(n int) string { return Tail(p.cfg.Log, n) }

// Tail returns the last n lines of the file at path.
func Tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// Levels counts a slog text log's lines by level.
type Levels struct {
	Warn, Error int
	Other       int    // lines not written by slog (a library's log.Println)
	Sample      string // the last ERROR line, else the first WARN or unstructured one
}

// ReadLevels counts the WARN, ERROR and unstructured lines of the log at
// path; a missing log counts nothing.
func ReadLevels(path string) Levels {
	var l Levels
	f, err := os.Open(path)
	if err != nil {
		return l
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case !strings.Contains(line, "level="):
			l.Other++
			if l.Sample == "" {
				l.Sample = line
			}
		case strings.Contains(line, "level=ERROR"):
			l.Error++
			l.Sample = line
		case strings.Contains(line, "level=WARN"):
			l.Warn++
			if l.Sample == "" {
				l.Sample = line
			}
		}
	}
	return l
}
