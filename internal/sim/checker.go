package sim

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph264"
	"github.com/pion/rtp"
)

// CameraStats is what a Checker saw of one camera's stamps.
type CameraStats struct {
	// Count is the number of valid stamps.
	Count int
	// MaxSeq is the highest sequence number seen.
	MaxSeq uint64
	// First is the capture time of the first stamp seen, Latest the
	// latest capture time.
	First, Latest time.Time
	// Gaps counts stamps whose seq is more than one past the previous stamp's.
	Gaps int
	// Reorders counts stamps whose seq is not above the previous stamp's
	// (repeats included).
	Reorders int
	// last is the previous stamp's seq.
	last uint64
}

// Checker tallies the stamps in what a viewer received. It is safe for
// concurrent use.
type Checker struct {
	keys Keys
	h265 bool
	// rtpMu serialises RTP, which feeds one stream's decoder in order.
	rtpMu sync.Mutex
	rtp   func(*rtp.Packet) error // guarded by rtpMu
	mu    sync.Mutex
	// The tallies below are guarded by mu.
	cams  map[string]*CameraStats
	bad   int
	unst  int
	units int
	// firstErr is the first bad stamp's error, reported by Only.
	firstErr error
}

// NewChecker returns a Checker for H.264 streams that verifies stamps with keys.
func NewChecker(keys Keys) *Checker {
	return &Checker{keys: keys, cams: map[string]*CameraStats{}}
}

// NewCheckerH265 returns a Checker for H.265 streams (prefix SEI stamps).
// Its AnnexB method treats the input as one access unit, and RTP is not
// supported.
func NewCheckerH265(keys Keys) *Checker {
	c := NewChecker(keys)
	c.h265 = true
	return c
}

// AccessUnit checks one access unit given as NAL units without start codes.
// Every stamp in it is counted; an access unit without one counts as
// unstamped. The error reports the unit's bad stamps, if any.
func (c *Checker) AccessUnit(nalus [][]byte) error {
	parse := ParseStamp
	if c.h265 {
		parse = ParseStampH265
	}
	var errs []error
	c.mu.Lock()
	defer c.mu.Unlock()
	c.units++
	stamped := false
	for _, n := range nalus {
		s, ok, err := parse(n, c.keys)
		if !ok {
			continue
		}
		stamped = true
		if err != nil {
			c.bad++
			if c.firstErr == nil {
				c.firstErr = err
			}
			errs = append(errs, err)
			continue
		}
		c.count(s)
	}
	if !stamped {
		c.unst++
	}
	return errors.Join(errs...)
}

// count records a valid stamp; c.mu must be held.
func (c *Checker) count(s Stamp) {
	st := c.cams[s.Camera]
	if st == nil {
		st = &CameraStats{First: s.Time}
		c.cams[s.Camera] = st
	} else {
		switch {
		case s.Seq <= st.last:
			st.Reorders++
		case s.Seq > st.last+1:
			st.Gaps++
		}
	}
	st.Count++
	st.last = s.Seq
	st.MaxSeq = max(st.MaxSeq, s.Seq)
	if s.Time.After(st.Latest) {
		st.Latest = s.Time
	}
}

// AnnexB checks an Annex-B byte stream that holds one or more whole access
// units.
func (c *Checker) AnnexB(b []byte) error {
	nalus := SplitAnnexB(b)
	if c.h265 {
		return c.AccessUnit(nalus)
	}
	var errs []error
	for _, au := range SplitAccessUnits(nalus) {
		if err := c.AccessUnit(au); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// AVCC checks one MP4 sample: an access unit of NAL units with 4-byte
// big-endian length prefixes.
func (c *Checker) AVCC(sample []byte) error {
	nalus, err := splitAVCC(sample)
	if err != nil {
		c.mu.Lock()
		c.bad++
		if c.firstErr == nil {
			c.firstErr = err
		}
		c.mu.Unlock()
		return err
	}
	return c.AccessUnit(nalus)
}

// RTP depacketizes H.264 RTP packets (RFC 6184, packetization mode 1) of one
// stream, in order, and checks each access unit they complete. Packet loss
// (a fragment without its start) is not an error. For several streams or
// sessions, use one RTPFeed each.
func (c *Checker) RTP(pkts ...*rtp.Packet) error {
	c.rtpMu.Lock()
	defer c.rtpMu.Unlock()
	if c.rtp == nil {
		c.rtp = c.RTPFeed()
	}
	var errs []error
	for _, pkt := range pkts {
		if err := c.rtp(pkt); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// RTPFeed returns a function that depacketizes one H.264 RTP stream with its
// own decoder and checks the access units it completes. The function is not
// safe for concurrent use (gortsplib calls a session's packet callback from
// one goroutine).
func (c *Checker) RTPFeed() func(*rtp.Packet) error {
	if c.h265 {
		return func(*rtp.Packet) error { return errors.New("sim: Checker RTP supports H.264 only") }
	}
	dec := &rtph264.Decoder{PacketizationMode: 1}
	if err := dec.Init(); err != nil {
		panic(err) // mode 1 is always supported
	}
	return func(pkt *rtp.Packet) error {
		au, err := dec.Decode(pkt)
		switch {
		case errors.Is(err, rtph264.ErrMorePacketsNeeded),
			errors.Is(err, rtph264.ErrNonStartingPacketAndNoPrevious):
			return nil
		case err != nil:
			return fmt.Errorf("sim: RTP: %w", err)
		}
		return c.AccessUnit(au)
	}
}

// Counts returns the number of valid stamps per camera.
func (c *Checker) Counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := make(map[string]int, len(c.cams))
	for id, st := range c.cams {
		m[id] = st.Count
	}
	return m
}

// Stats returns a copy of the per-camera statistics.
func (c *Checker) Stats() map[string]CameraStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := make(map[string]CameraStats, len(c.cams))
	for id, st := range c.cams {
		m[id] = *st
	}
	return m
}

// Bad returns the number of stamps that failed to verify or parse.
func (c *Checker) Bad() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bad
}

// Unstamped returns the number of access units without a stamp.
func (c *Checker) Unstamped() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.unst
}

// Units returns the number of access units checked.
func (c *Checker) Units() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.units
}

// Only returns an error unless every stamp seen so far is a valid stamp of
// camera and there is at least one.
func (c *Checker) Only(camera string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var others []string
	for id, st := range c.cams {
		if id != camera {
			others = append(others, fmt.Sprintf("%q×%d", id, st.Count))
		}
	}
	sort.Strings(others)
	var errs []error
	if len(others) > 0 {
		errs = append(errs, fmt.Errorf("sim: want only camera %q, got stamps of %s", camera, strings.Join(others, ", ")))
	}
	if c.bad > 0 {
		errs = append(errs, fmt.Errorf("sim: %d bad stamps, first: %w", c.bad, c.firstErr))
	}
	if st := c.cams[camera]; st == nil || st.Count == 0 {
		errs = append(errs, fmt.Errorf("sim: no stamps of camera %q (%d access units, %d unstamped)", camera, c.units, c.unst))
	}
	return errors.Join(errs...)
}
