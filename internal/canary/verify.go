package canary

import (
	"crypto/sha256"
	"fmt"
	"image"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"vigil/internal/sim"
)

// Violation kinds.
const (
	// KindForeign is a frame or still of a camera the viewer may not see.
	KindForeign = "foreign"
	// KindWrongCamera is one of a camera the viewer may see, but not the
	// one asked for.
	KindWrongCamera = "wrong-camera"
	// KindBadStamp is a stamp that does not verify: bytes of two units mixed.
	KindBadStamp = "bad-stamp"
	// KindUnknownUpload is an uploaded still whose bytes no upload of the
	// camera had.
	KindUnknownUpload = "unknown-upload"
	// KindAttackServed is media (or a success status) served to a viewer
	// asking for a camera they may not see.
	KindAttackServed = "attack-served"
	// KindBeforeEpoch is a frame or still of the camera asked for, made
	// before the viewer's epoch for it: before they claimed it or were
	// shared it (a previous household's picture, a cache from before).
	KindBeforeEpoch = "before-epoch"
	// KindAudioAlone is audio served in a visit with no checked video
	// frame beside it (see Visit.AudioDone).
	KindAudioAlone = "audio-without-video"
	// KindOutOfSpan is a frame of the camera asked for captured outside the
	// stretch of time the visit may see: a recorded clip's, or a
	// time-limited share's (a frame past its end).
	KindOutOfSpan = "out-of-span"
	// KindServer is an isolation violation Vigil itself counted at egress
	// (vigil_isolation_violations_total): it withheld the object and
	// ended the session, and the canary counts it as caught.
	KindServer = "server-egress"
)

// Violation is one isolation failure the canary saw.
type Violation struct {
	At        time.Duration // since the load started
	Kind      string
	Output    string
	User      string
	Requested string
	Got       string
	Detail    string
}

func (v Violation) String() string {
	at := v.At.Round(time.Millisecond)
	if v.Kind == KindServer {
		// Vigil's own log line, from its message on.
		d := v.Detail
		if i := strings.Index(d, "msg="); i >= 0 {
			d = d[i:]
		}
		return fmt.Sprintf("%s at %s: %s", v.Kind, at, d)
	}
	if v.User == "" { // seen from the cameras' side (see linger)
		return fmt.Sprintf("%s at %s: camera %s: %s", v.Kind, at, v.Requested, v.Detail)
	}
	got := ""
	if v.Got != "" {
		got = " got " + v.Got
	}
	return fmt.Sprintf("%s at %s: %s user %s asked for %s%s: %s", v.Kind, at, v.Output, v.User, v.Requested, got, v.Detail)
}

// tally counts what the viewers of one output saw.
type tally struct {
	sessions, frames, stills, refusals, errors, cancels, unreadable atomic.Int64
	// overtaken counts attacks served after a grant overtook them (no
	// verdict); audio counts audio packets or samples received.
	overtaken, audio atomic.Int64
}

// checker is the viewer side's verdict on everything received.
type checker struct {
	layout *Layout
	keys   sim.Keys
	start  time.Time
	found  chan struct{} // closed at the first violation
	// recorded remembers recordings and events viewers were shown.
	recorded recorded
	// exports remembers the releases that kept their footage.
	exports keptExports

	mu         sync.Mutex
	outputs    map[string]*tally           // guarded by mu (the tallies are atomic)
	violations []Violation                 // guarded by mu; the first 100
	count      map[string]int              // guarded by mu; violations per kind
	failed     map[string]map[string]int64 // guarded by mu; failed visits per output and class (see failClass)
	first      time.Duration               // guarded by mu; time to the first violation, -1 if none
}

func newChecker(l *Layout, keys sim.Keys) *checker {
	return &checker{layout: l, keys: keys, found: make(chan struct{}), outputs: map[string]*tally{},
		count: map[string]int{}, failed: map[string]map[string]int64{}, first: -1, start: time.Now()}
}

func (c *checker) out(name string) *tally {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.outputs[name]
	if t == nil {
		t = &tally{}
		c.outputs[name] = t
	}
	return t
}

func (c *checker) violation(v Violation) {
	v.At = time.Since(c.start)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.count[v.Kind]++
	if len(c.violations) < 100 {
		c.violations = append(c.violations, v)
	}
	if c.first < 0 {
		c.first = v.At
		close(c.found)
	}
}

// identity judges one object of camera got, received by user who asked for
// requested. It returns false on a violation.
func (c *checker) identity(output, user, requested, got, detail string) bool {
	if got == requested {
		return true
	}
	kind := KindForeign
	if c.layout.May(user, got) {
		kind = KindWrongCamera
	}
	c.violation(Violation{Kind: kind, Output: output, User: user, Requested: requested, Got: got, Detail: detail})
	return false
}

// stampedBy returns the camera of an access unit's first valid stamp, or "".
func (c *checker) stampedBy(nalus [][]byte) string {
	for _, n := range nalus {
		if st, ok, err := sim.ParseStamp(n, c.keys); ok && err == nil {
			return st.Camera
		}
	}
	return ""
}

// accessUnit checks one access unit's stamps: the camera asked for,
// captured no earlier than nb (zero: no epoch). It returns false on a
// violation.
func (c *checker) accessUnit(output, user, requested string, nb time.Time, nalus [][]byte) bool {
	stamped := false
	for _, n := range nalus {
		st, ok, err := sim.ParseStamp(n, c.keys)
		if !ok {
			continue
		}
		if err != nil {
			c.violation(Violation{Kind: KindBadStamp, Output: output, User: user, Requested: requested,
				Got: st.Camera, Detail: err.Error()})
			return false
		}
		if !c.identity(output, user, requested, st.Camera, fmt.Sprintf("stamp seq %d", st.Seq)) {
			return false
		}
		if !c.inEpoch(output, user, requested, st.Time, nb, fmt.Sprintf("stamp seq %d", st.Seq)) {
			return false
		}
		stamped = true
	}
	if stamped {
		c.out(output).frames.Add(1)
	}
	return true
}

// inSpan judges an access unit of a recorded clip by its stamps' capture
// times: inside [from, to]. It returns false on a violation.
func (c *checker) inSpan(output, user, requested string, from, to time.Time, nalus [][]byte) bool {
	for _, n := range nalus {
		st, ok, err := sim.ParseStamp(n, c.keys)
		if !ok || err != nil || !st.Time.Before(from) && !st.Time.After(to) {
			continue
		}
		c.violation(Violation{Kind: KindOutOfSpan, Output: output, User: user, Requested: requested, Got: st.Camera,
			Detail: fmt.Sprintf("stamp seq %d captured %s, outside the span the viewer may see (a clip's, a time-limited share's) %s to %s (slack included)", st.Seq,
				st.Time.UTC().Format(time.RFC3339Nano), from.UTC().Format(time.RFC3339Nano), to.UTC().Format(time.RFC3339Nano))})
		return false
	}
	return true
}

// inEpoch judges a capture time against the viewer's not-before time.
func (c *checker) inEpoch(output, user, requested string, captured, nb time.Time, detail string) bool {
	if nb.IsZero() || !captured.Before(nb) {
		return true
	}
	c.violation(Violation{Kind: KindBeforeEpoch, Output: output, User: user, Requested: requested, Got: requested,
		Detail: fmt.Sprintf("%s captured %s before the viewer's epoch (less slack)", detail, nb.Sub(captured).Round(time.Millisecond))})
	return false
}

// picture checks a decoded still by its block code: the camera asked for,
// in a picture generation that had not ended by nb. It returns false on a
// violation.
func (c *checker) picture(output, user, requested string, nb time.Time, img image.Image) bool {
	code, err := sim.ReadCode(img)
	if err != nil {
		c.out(output).unreadable.Add(1)
		return true
	}
	refs := c.layout.codes(code)
	for _, r := range refs {
		if r.camera != requested {
			continue
		}
		if end, closed := c.layout.closedAt(r.camera, r.gen); closed && !c.inEpoch(output, user, requested, end, nb,
			fmt.Sprintf("picture generation %d (ended then)", r.gen)) {
			return false
		}
		c.out(output).stills.Add(1)
		return true
	}
	got := fmt.Sprintf("code %06x", code)
	if len(refs) > 0 {
		got = refs[0].camera
	}
	return c.identity(output, user, requested, got, "block code")
}

// uploadBytes checks an uploaded still served as it was uploaded: the
// camera asked for, uploaded no earlier than nb.
func (c *checker) uploadBytes(output, user, requested string, nb time.Time, b []byte) bool {
	sum := sha256.Sum256(b)
	if cam := c.layout.byID[requested]; cam != nil {
		if done, ok := cam.uploaded(sum); ok {
			if !done.IsZero() && !c.inEpoch(output, user, requested, done, nb, "upload (answered then)") {
				return false
			}
			c.out(output).stills.Add(1)
			return true
		}
	}
	for _, cam := range c.layout.Cameras {
		if _, ok := cam.uploaded(sum); ok {
			return c.identity(output, user, requested, cam.ID, "upload bytes")
		}
	}
	c.violation(Violation{Kind: KindUnknownUpload, Output: output, User: user, Requested: requested,
		Detail: fmt.Sprintf("%d bytes", len(b))})
	return false
}

// attackServed records media served to an attacker.
func (c *checker) attackServed(output, user, camera, detail string) {
	c.violation(Violation{Kind: KindAttackServed, Output: output, User: user, Requested: camera, Detail: detail})
}

// snapshot returns the violations per kind, the first ones, and the time to
// the first (-1: none).
func (c *checker) snapshot() (map[string]int, []Violation, time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	counts := make(map[string]int, len(c.count))
	for k, v := range c.count {
		counts[k] = v
	}
	vs := append([]Violation(nil), c.violations...)
	sort.Slice(vs, func(i, j int) bool { return vs[i].At < vs[j].At })
	return counts, vs, c.first
}

func sha256Of(b []byte) [32]byte { return sha256.Sum256(b) }
