package canary

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// OutputStats is what the viewers of one output saw.
type OutputStats struct {
	Name                               string
	Sessions, Frames, Stills, Refusals int64
	Errors, Cancels, Unreadable        int64
	// Overtaken counts attacks a grant overtook (no verdict); Audio the
	// audio packets or samples received.
	Overtaken, Audio int64
	// Failures are the classes of failed visits (Errors), most first.
	Failures []FailClass
}

// Report is the outcome of a run.
type Report struct {
	Seed                            int64
	Nodes                           int // Vigil nodes: more than 1 is a cluster
	Cameras, Users, Viewers, Shares int
	Mutant                          string
	Setup, Duration                 time.Duration
	Outputs                         []OutputStats
	Faults                          map[string]int64
	FramesSent                      uint64
	Uploads, UploadErrors           int64
	// Violations counts violations per kind; First lists the first ones.
	Violations map[string]int
	First      []Violation
	// MoveFailures are the classes of failed moves of the world (a class
	// names its move), most first.
	MoveFailures []FailClass
	// Detected is the time from the start of the load to the first
	// violation, -1 if there was none.
	Detected time.Duration
	// ServerLogLines counts Vigil's "isolation violation" error lines.
	ServerLogLines int
}

func (r *Report) fill(c *checker, s *schedule, f *fleet, srv *server, d time.Duration) {
	r.Duration = d
	c.mu.Lock()
	for name, t := range c.outputs {
		r.Outputs = append(r.Outputs, OutputStats{Name: name, Sessions: t.sessions.Load(), Frames: t.frames.Load(),
			Stills: t.stills.Load(), Refusals: t.refusals.Load(), Errors: t.errors.Load(), Cancels: t.cancels.Load(),
			Unreadable: t.unreadable.Load(), Overtaken: t.overtaken.Load(), Audio: t.audio.Load(),
			Failures: topFailures(c.failed[name])})
	}
	for name, m := range c.failed {
		if kind, ok := strings.CutPrefix(name, moveOutput); ok {
			for _, f := range topFailures(m) {
				r.MoveFailures = append(r.MoveFailures, FailClass{Class: kind + ": " + f.Class, N: f.N})
			}
		}
	}
	c.mu.Unlock()
	sort.Slice(r.MoveFailures, func(i, j int) bool { return r.MoveFailures[i].N > r.MoveFailures[j].N })
	sort.Slice(r.Outputs, func(i, j int) bool { return r.Outputs[i].Name < r.Outputs[j].Name })
	r.Faults = s.counts()
	var cancels int64
	for _, o := range r.Outputs {
		cancels += o.Cancels
	}
	r.Faults[FaultCancel] = cancels
	for k, n := range f.faultSessions() {
		r.Faults["camera "+k] = int64(n)
	}
	r.FramesSent = f.frames()
	r.Uploads, r.UploadErrors = f.uploads.Load(), f.uploadErrors.Load()
	r.Violations, r.First, r.Detected = c.snapshot()
	r.ServerLogLines = len(srv.LogLines("isolation violation"))
}

// Passed reports zero violations of any kind.
func (r *Report) Passed() bool {
	n := r.ServerLogLines
	for _, v := range r.Violations {
		n += v
	}
	return n == 0
}

// Totals returns the frames and stills checked over every output.
func (r *Report) Totals() (frames, stills, refusals int64) {
	for _, o := range r.Outputs {
		frames += o.Frames
		stills += o.Stills
		refusals += o.Refusals
	}
	return frames, stills, refusals
}

// Markdown renders the report.
func (r *Report) Markdown() string {
	var b strings.Builder
	verdict := "PASS: zero violations"
	if !r.Passed() {
		verdict = fmt.Sprintf("FAIL: first violation after %s", r.Detected.Round(time.Millisecond))
	}
	frames, stills, refusals := r.Totals()
	if r.Nodes > 1 {
		fmt.Fprintf(&b, "Cluster of %d nodes on one Postgres, NATS routed through toxiproxy; cameras and viewers spread over them at random. ", r.Nodes)
	}
	fmt.Fprintf(&b, "Seed %d; %d cameras, %d users (%d shares), %d viewer clients; mutant: %s.\n",
		r.Seed, r.Cameras, r.Users, r.Shares, r.Viewers, orNone(r.Mutant))
	fmt.Fprintf(&b, "Setup %s, load %s. **%s.** Frames checked: %d (of %d sent); stills checked: %d; attacks refused: %d; uploads: %d (%d failed).\n\n",
		r.Setup.Round(time.Second), r.Duration.Round(time.Second), verdict, frames, r.FramesSent, stills, refusals, r.Uploads, r.UploadErrors)
	b.WriteString("| output | visits | frames checked | stills checked | audio received | attacks refused | attacks overtaken | cancelled | failed visits | unreadable |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, o := range r.Outputs {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d | %d | %d | %d | %d |\n", o.Name, o.Sessions, o.Frames, o.Stills, o.Audio,
			o.Refusals, o.Overtaken, o.Cancels, o.Errors, o.Unreadable)
	}
	b.WriteString(r.failureTable())
	b.WriteString("\n| fault injected, or move of the world | count |\n|---|---:|\n")
	kinds := make([]string, 0, len(r.Faults))
	for k := range r.Faults {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(&b, "| %s | %d |\n", k, r.Faults[k])
	}
	fmt.Fprintf(&b, "\nViolations: %s; Vigil's isolation-violation log lines: %d.\n", r.violationSummary(), r.ServerLogLines)
	shown := map[string]bool{}
	for i, v := range r.First {
		if i < 5 || !shown[v.Kind] { // the first five, and the first of each kind
			fmt.Fprintf(&b, "- %s\n", v)
		}
		shown[v.Kind] = true
	}
	return b.String()
}

// failureTable lists each output's most common classes of failed visits:
// a failed visit checked nothing, so they say where the checks were lost.
func (r *Report) failureTable() string {
	var b strings.Builder
	for _, o := range r.Outputs {
		for i, f := range o.Failures {
			if i == 3 {
				break
			}
			if b.Len() == 0 {
				b.WriteString("\n| output | failed visits of this class | class (ids and numbers blanked) |\n|---|---:|---|\n")
			}
			fmt.Fprintf(&b, "| %s | %d | %s |\n", o.Name, f.N, strings.ReplaceAll(f.Class, "|", "/"))
		}
	}
	for i, f := range r.MoveFailures {
		if i == 5 {
			break
		}
		if i == 0 {
			b.WriteString("\n| failed moves of the world | count |\n|---|---:|\n")
		}
		fmt.Fprintf(&b, "| %s | %d |\n", strings.ReplaceAll(f.Class, "|", "/"), f.N)
	}
	return b.String()
}

func (r *Report) violationSummary() string {
	if len(r.Violations) == 0 {
		return "none"
	}
	var parts []string
	for k, n := range r.Violations {
		parts = append(parts, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
