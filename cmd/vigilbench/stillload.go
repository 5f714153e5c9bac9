package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"
)

// stillWorkers is the client goroutines (and keep-alive connections) of
// the still load.
const stillWorkers = 16

// stillLoad is an open-loop run of still requests at a fixed rate.
type stillLoad struct {
	rate     float64 // requests/s asked
	window   time.Duration
	sent     int
	errors   int
	elapsed  time.Duration // first due time to last response
	bytes    int64
	firstErr string
	// Latency runs from each request's due time, so a request that waited
	// for a free worker counts its wait (no coordinated omission).
	all          []time.Duration
	hits         []time.Duration // served a still some earlier request had already got
	waited       []time.Duration // the first requests for a new keyframe: they waited for its decode
	vigil, bench usage
}

func (l stillLoad) achieved() float64 {
	if l.elapsed <= 0 {
		return 0
	}
	return float64(l.sent-l.errors) / l.elapsed.Seconds()
}

// kib is the mean still size in KiB.
func (l stillLoad) kib() float64 {
	if len(l.all) == 0 {
		return 0
	}
	return float64(l.bytes) / float64(len(l.all)) / 1024
}

// summary is a one-line progress note.
func (l stillLoad) summary() string {
	return fmt.Sprintf("asked %.0f/s achieved %.0f/s errors=%d p50=%s p99=%s hits p99=%s waited=%d vigil_cpu=%.0f%%",
		l.rate, l.achieved(), l.errors, ms(percentile(l.all, 50)), ms(percentile(l.all, 99)),
		ms(percentile(l.hits, 99)), len(l.waited), l.vigil.cpuPct)
}

// measureStills primes Vigil's cache, then runs the cached-still load on
// url at rate for d and samples Vigil's and this process's CPU over it.
// With profile set, Vigil's CPU profile over the load is written there.
func measureStills(ctx context.Context, v *vigil, url string, rate float64, d time.Duration, profile string) (stillLoad, error) {
	c := v.webClient(stillWorkers)
	defer c.close()
	primed, err := primeStills(ctx, c, url)
	if err != nil {
		return stillLoad{}, err
	}
	if profile != "" {
		done := profileDuring(ctx, c, url, d, profile)
		defer func() { <-done }()
	}
	p0, err := sampleProc(v.PID())
	if err != nil {
		return stillLoad{}, err
	}
	b0, _ := sampleProc(os.Getpid())
	l := loadStills(ctx, c, url, primed, rate, d)
	p1, err := sampleProc(v.PID())
	if err != nil {
		return stillLoad{}, err
	}
	b1, _ := sampleProc(os.Getpid())
	l.vigil, l.bench = usageBetween(p0, p1), usageBetween(b0, b1)
	return l, ctx.Err()
}

// profileDuring fetches Vigil's CPU profile over the next d (from the
// origin of url, as the admin) into path, on its own connection; the
// channel closes when it is written. A failure is logged, not fatal.
func profileDuring(ctx context.Context, c *webClient, rawURL string, d time.Duration, path string) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		u, err := url.Parse(rawURL)
		if err != nil {
			log.Printf("  profile: %v", err)
			return
		}
		u.Path, u.RawQuery = "/debug/pprof/profile", fmt.Sprintf("seconds=%d", max(1, int(d.Seconds())))
		pc := &webClient{hc: &http.Client{Transport: c.hc.Transport.(*http.Transport).Clone()}, user: c.user, pw: c.pw}
		fetchProfile(ctx, pc, u.String(), path)
	}()
	return done
}

// fetchProfile writes the profile at rawURL (as c's user) into path. A
// failure is logged, not fatal.
func fetchProfile(ctx context.Context, c *webClient, rawURL, path string) {
	res, err := c.open(ctx, rawURL)
	if err != nil {
		log.Printf("  profile: %v", err)
		return
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err == nil {
		err = os.WriteFile(path, b, 0o644)
	}
	if err != nil {
		log.Printf("  profile: %v", err)
	}
}

// primeStills fills Vigil's cache and opens the client's connections with
// stillWorkers concurrent requests; it returns the still's capture time.
func primeStills(ctx context.Context, c *webClient, url string) (string, error) {
	var g errgroup.Group
	captured := make([]string, stillWorkers)
	for i := range stillWorkers {
		g.Go(func() error {
			_, h, err := c.get(ctx, url)
			if err == nil {
				captured[i] = h.Get("X-Still-Captured")
			}
			return err
		})
	}
	err := g.Wait()
	return slices.Max(captured), err
}

// shot is one request of the load.
type shot struct {
	due, end time.Time
	captured string // X-Still-Captured
	bytes    int64
	err      error
}

// loadStills requests url at rate for d from stillWorkers goroutines;
// primed is the X-Still-Captured of the still already in Vigil's cache.
func loadStills(ctx context.Context, c *webClient, url, primed string, rate float64, d time.Duration) stillLoad {
	n := int(rate * d.Seconds())
	shots := make([]shot, n)
	jobs := make(chan int, n)
	interval := time.Duration(float64(time.Second) / rate)
	t0 := time.Now().Add(10 * time.Millisecond)
	done := make(chan struct{})
	for range stillWorkers {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range jobs {
				shots[i] = stillShot(ctx, c, url, t0.Add(time.Duration(i)*interval))
			}
		}()
	}
	pace(ctx, jobs, n, t0, interval)
	close(jobs)
	for range stillWorkers {
		<-done
	}
	return tallyShots(shots, primed, rate, d)
}

// pace hands out job i at t0 + i×interval.
func pace(ctx context.Context, jobs chan<- int, n int, t0 time.Time, interval time.Duration) {
	for i := 0; i < n && ctx.Err() == nil; {
		now := time.Now()
		for ; i < n && !t0.Add(time.Duration(i)*interval).After(now); i++ {
			jobs <- i
		}
		if i < n {
			time.Sleep(time.Until(t0.Add(time.Duration(i) * interval)))
		}
	}
}

func stillShot(ctx context.Context, c *webClient, url string, due time.Time) shot {
	s := shot{due: due}
	res, err := c.open(ctx, url)
	if err == nil {
		s.captured = res.Header.Get("X-Still-Captured")
		s.bytes, err = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if err == nil && res.Header.Get("X-Still-Source") != "keyframe" {
			err = errNotKeyframe{res.Header}
		}
	}
	s.end, s.err = time.Now(), err
	return s
}

type errNotKeyframe struct{ h http.Header }

func (e errNotKeyframe) Error() string {
	return "still source " + e.h.Get("X-Still-Source") + ", want keyframe"
}

// tallyShots splits the requests into cache hits and the ones that waited
// for a new keyframe's decode: those that got a still other than the primed
// one and started before any request had received it.
func tallyShots(shots []shot, primed string, rate float64, d time.Duration) stillLoad {
	l := stillLoad{rate: rate, window: d}
	firstEnd := map[string]time.Time{primed: {}}
	var last time.Time
	for _, s := range shots {
		if s.due.IsZero() {
			continue // never sent: the run was cancelled
		}
		l.sent++
		last = later(last, s.end)
		if s.err != nil {
			l.errors++
			if l.firstErr == "" {
				l.firstErr = s.err.Error()
			}
			continue
		}
		if e, ok := firstEnd[s.captured]; !ok || (s.captured != primed && s.end.Before(e)) {
			firstEnd[s.captured] = s.end
		}
	}
	for _, s := range shots {
		if s.due.IsZero() || s.err != nil {
			continue
		}
		lat := s.end.Sub(s.due)
		l.all, l.bytes = append(l.all, lat), l.bytes+s.bytes
		if s.due.Before(firstEnd[s.captured]) {
			l.waited = append(l.waited, lat)
		} else {
			l.hits = append(l.hits, lat)
		}
	}
	if len(shots) > 0 && !shots[0].due.IsZero() {
		l.elapsed = last.Sub(shots[0].due)
	}
	return l
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
