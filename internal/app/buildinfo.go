package app

import (
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// buildInfo is vigil_build_info, always 1, labelled with what the binary
// says of its build: the module version, the VCS revision and whether the
// tree was modified, and the Go version.
func buildInfo() prometheus.Collector {
	labels := prometheus.Labels{"version": "unknown", "revision": "unknown", "modified": "unknown", "go_version": "unknown"}
	if bi, ok := debug.ReadBuildInfo(); ok {
		labels["version"], labels["go_version"] = bi.Main.Version, bi.GoVersion
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				labels["revision"] = s.Value
			case "vcs.modified":
				labels["modified"] = s.Value
			}
		}
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "vigil_build_info",
		Help: "Always 1; the labels say which build of Vigil runs.", ConstLabels: labels})
	g.Set(1)
	return g
}
