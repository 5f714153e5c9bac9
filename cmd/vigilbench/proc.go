package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat.
// It is 100 on every Linux architecture Go supports without cgo tricks.
const clockTicks = 100

// procSample is one reading of a process's counters from /proc.
type procSample struct {
	at       time.Time
	cpuTicks uint64 // utime + stime
	rssKiB   uint64 // VmRSS
	anonKiB  uint64 // RssAnon: VmRSS without file-backed pages (the binary's)
	syscw    uint64 // write syscalls (0 if /proc/<pid>/io is unreadable)
	wchar    uint64 // bytes passed to write syscalls
	ioOK     bool
}

// sampleProc reads pid's CPU time, RSS and write counters.
func sampleProc(pid int) (procSample, error) {
	s := procSample{at: time.Now()}
	dir := fmt.Sprintf("/proc/%d/", pid)
	b, err := os.ReadFile(dir + "stat")
	if err != nil {
		return s, err
	}
	if s.cpuTicks, err = parseStat(b); err != nil {
		return s, err
	}
	if b, err = os.ReadFile(dir + "status"); err != nil {
		return s, err
	}
	if s.rssKiB, s.anonKiB, err = parseStatusRSS(b); err != nil {
		return s, err
	}
	if b, err = os.ReadFile(dir + "io"); err == nil {
		s.syscw, s.wchar, err = parseIO(b)
		s.ioOK = err == nil
	}
	return s, nil
}

// parseStat returns utime+stime from /proc/<pid>/stat.
func parseStat(b []byte) (uint64, error) {
	_, ticks, err := parseStatParent(b)
	return ticks, err
}

// parseStatParent returns the parent pid and utime+stime from
// /proc/<pid>/stat. The command name (field 2) may hold spaces and
// parentheses, so fields are counted from the last ')': ppid is field 4 of
// proc(5), utime and stime fields 14 and 15.
func parseStatParent(b []byte) (ppid int, ticks uint64, err error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, errors.New("stat: no ')'")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state), so field n is f[n-3].
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("stat: %d fields after comm", len(f))
	}
	ppid, err0 := strconv.Atoi(f[1])
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err0, err1, err2); err != nil {
		return 0, 0, fmt.Errorf("stat: %w", err)
	}
	return ppid, ut + st, nil
}

// procTicks is one process's parent and CPU ticks.
type procTicks struct {
	ppid  int
	ticks uint64
}

// treeTicks is the CPU ticks (utime+stime) of root and every live
// descendant of it, 0 if root is gone. Processes that have exited are
// missed: Chromium keeps its renderer and helpers for the browser's life.
func treeTicks(root int) uint64 {
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	procs := map[int]procTicks{}
	for _, path := range dirs {
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(path)))
		if err != nil {
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			continue // exited meanwhile
		}
		if ppid, ticks, err := parseStatParent(b); err == nil {
			procs[pid] = procTicks{ppid, ticks}
		}
	}
	return descendantTicks(procs, root)
}

// descendantTicks sums the ticks of root and its descendants in procs.
func descendantTicks(procs map[int]procTicks, root int) uint64 {
	children := map[int][]int{}
	for pid, p := range procs {
		children[p.ppid] = append(children[p.ppid], pid)
	}
	var sum uint64
	seen := map[int]bool{}
	queue := []int{root}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		p, ok := procs[pid]
		if !ok || seen[pid] {
			continue
		}
		seen[pid] = true
		sum += p.ticks
		queue = append(queue, children[pid]...)
	}
	return sum
}

// parseStatusRSS returns VmRSS and RssAnon in KiB from /proc/<pid>/status.
// RssAnon leaves out the pages mapped from files: mostly the binary's
// code and read-only data, clean and shared with the page cache.
func parseStatusRSS(b []byte) (rss, anon uint64, err error) {
	v, ok1 := field(b, "VmRSS:")
	a, ok2 := field(b, "RssAnon:")
	if !ok1 || !ok2 {
		return 0, 0, errors.New("status: no VmRSS or RssAnon")
	}
	rss, err1 := strconv.ParseUint(strings.TrimSuffix(v, " kB"), 10, 64)
	anon, err2 := strconv.ParseUint(strings.TrimSuffix(a, " kB"), 10, 64)
	return rss, anon, errors.Join(err1, err2)
}

// parseIO returns syscw and wchar from /proc/<pid>/io.
func parseIO(b []byte) (syscw, wchar uint64, err error) {
	sc, ok1 := field(b, "syscw:")
	wc, ok2 := field(b, "wchar:")
	if !ok1 || !ok2 {
		return 0, 0, errors.New("io: no syscw or wchar")
	}
	syscw, err1 := strconv.ParseUint(sc, 10, 64)
	wchar, err2 := strconv.ParseUint(wc, 10, 64)
	return syscw, wchar, errors.Join(err1, err2)
}

// field returns the trimmed value of the line starting with key.
func field(b []byte, key string) (string, bool) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), key); ok {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

// parseCPUBusy returns the busy and steal ticks summed over all CPUs from
// the first line of /proc/stat (proc(5): user nice system idle iowait irq
// softirq steal ...); busy excludes idle and iowait.
func parseCPUBusy(b []byte) (busy, steal uint64, err error) {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0, errors.New("stat: no cpu line")
	}
	var v [8]uint64
	for i := range v {
		if v[i], err = strconv.ParseUint(f[i+1], 10, 64); err != nil {
			return 0, 0, fmt.Errorf("stat: %w", err)
		}
	}
	for i, x := range v {
		if i != 3 && i != 4 { // idle, iowait
			busy += x
		}
	}
	return busy, v[7], nil
}

// machineBusy samples the whole machine's busy ticks (0, 0 if unreadable).
func machineBusy() (busy, steal uint64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	busy, steal, _ = parseCPUBusy(b)
	return busy, steal
}

// usage is what a process did between two samples.
type usage struct {
	cpuPct        float64 // % of one core
	rssMiB        float64 // at the second sample
	anonMiB       float64 // its RssAnon
	writesPerSec  float64 // write syscalls per second; NaN if unknown
	bytesPerWrite float64 // NaN if unknown
}

func usageBetween(a, b procSample) usage {
	secs := b.at.Sub(a.at).Seconds()
	u := usage{rssMiB: float64(b.rssKiB) / 1024, anonMiB: float64(b.anonKiB) / 1024, writesPerSec: math.NaN(), bytesPerWrite: math.NaN()}
	if secs <= 0 {
		return u
	}
	u.cpuPct = 100 * float64(b.cpuTicks-a.cpuTicks) / clockTicks / secs
	if a.ioOK && b.ioOK {
		n := float64(b.syscw - a.syscw)
		u.writesPerSec = n / secs
		if n > 0 {
			u.bytesPerWrite = float64(b.wchar-a.wchar) / n
		}
	}
	return u
}

// percentile returns the nearest-rank p-th percentile (0 < p <= 100) of ds,
// or 0 for an empty slice. ds is not modified.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	rank := int(p/100*float64(len(s)) + 0.999999)
	rank = min(max(rank, 1), len(s))
	return s[rank-1]
}

// machine describes the host for the report.
type machine struct {
	cpus   int
	model  string
	kernel string
}

func readMachine() machine {
	m := machine{cpus: runtime.NumCPU(), model: "unknown", kernel: "unknown"}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if v, ok := field(b, "model name"); ok {
			m.model = strings.TrimSpace(strings.TrimPrefix(v, ":"))
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = strings.TrimSpace(string(b))
	}
	return m
}
