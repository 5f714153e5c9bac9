package vigilproc

import (
	"bufio"
	"maps"
	"strings"
	"testing"
)

func TestSumMetrics(t *testing.T) {
	text := `# HELP vigil_reader_skips_total Times a slow reader's queue overflowed.
# TYPE vigil_reader_skips_total counter
vigil_reader_skips_total{camera="cam-a",stream="main"} 3
vigil_reader_skips_total{camera="cam-b",stream="main"} 4
vigil_reader_skips_total_other 100
vigil_readers{camera="cam-a",stream="main"} 50
go_gc_duration_seconds{quantile="0.5"} 0.0001
go_gc_duration_seconds_sum 0.5
go_gc_duration_seconds_count 12
go_memstats_alloc_bytes_total 1.5e+09
`
	got, err := SumMetrics(bufio.NewScanner(strings.NewReader(text)), "vigil_reader_skips_total", "go_gc_duration_seconds_count", "go_memstats_alloc_bytes_total", "absent")
	want := map[string]float64{"vigil_reader_skips_total": 7, "go_gc_duration_seconds_count": 12, "go_memstats_alloc_bytes_total": 1.5e9}
	if err != nil || !maps.Equal(got, want) {
		t.Fatalf("SumMetrics = %v, %v; want %v", got, err, want)
	}
}
