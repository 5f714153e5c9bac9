package canary

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	"vigil/internal/sim"
)

// User is a canary user: a household member who owns and is shared cameras.
// Password and Token change while the world moves; a Visit holds a copy.
type User struct {
	Index          int
	Name, Password string
	// Token is the secret of the user's API token (a player's password,
	// HTTP Basic and RTSP Digest alike) and TokenID its id.
	Token, TokenID string
	// GoogleToken is the access token of the user's Google link ("" for a
	// user who may see no camera).
	GoogleToken string
	// AlexaToken is the access token of the user's Alexa link.
	AlexaToken string
	// Changed is set once the user has chosen a password: the generated one
	// that RTSP Digest also took is gone, and RTSP players use API tokens.
	Changed bool
}

// Camera is a simulated camera and who may see it. Owner, Shares, Claim
// and the picture generations change while the world moves: they are
// guarded by the layout's mu once the load runs.
type Camera struct {
	Index         int
	ID, Password  string
	Claim         string // the claim code while unclaimed
	Owner         int    // index into Layout.Users, -1 while unclaimed
	Shares        []int  // indexes into Layout.Users
	StillOnly     bool   // never publishes video; only uploads stills
	Width, Height int
	Main          bool // H.264 Main profile rather than Constrained Baseline
	Audio         bool // publishes a G.711 track beside the video
	Sub           bool // publishes a sub stream too

	// busy is held by whoever changes the camera's owner or run (a mover's
	// handover, the schedule's restart), so that they take turns.
	busy sync.Mutex
	// gen is the picture generation: a handover draws the camera's picture
	// under a new label from then on (see label), so a still shows which
	// generation it was made in. closed[g] is when generation g ended:
	// nothing of it was made after. Both guarded by the layout's mu.
	gen    int
	closed []time.Time
	// genMu is held for reading by an upload while it draws and sends a
	// picture, and for writing by a change of generation, so that closed
	// comes after every upload of the generation has reached Vigil.
	genMu sync.RWMutex

	uploadsMu      sync.Mutex
	uploads        map[[32]byte]*upload // sha256 of each upload's bytes
	uploadsCounter int
}

// upload is one uploaded still; sent is when it was sent (Vigil took it
// after then) and done when Vigil's answer came (zero while in flight):
// Vigil took it before then.
type upload struct {
	n          int
	sent, done time.Time
}

// label is what generation gen of the camera's picture shows: the id for
// the first, so that a camera that never changes hands draws as before.
func label(id string, gen int) string {
	if gen == 0 {
		return id
	}
	return id + "#" + strconv.Itoa(gen)
}

// codeRef is a block code's camera and picture generation.
type codeRef struct {
	camera string
	gen    int
}

// pairKey is a viewer and a camera.
type pairKey struct{ user, camera string }

// standing is what the canary knows of one viewer and one camera. While a
// change is in flight (pending) no visit is drawn for the pair: the server
// may answer either way. version counts the changes, so that a verdict on
// a visit drawn before a change can be dropped.
type standing struct {
	allowed, pending bool
	version          uint64
	// epoch is when the viewer's right began (when the claim or share
	// request was sent); share marks a sharee's epoch.
	epoch time.Time
	share bool
	// linked is set while the user's Google and Alexa links expose the
	// camera: chosen when linking, gone with a release (Vigil's reset takes
	// the camera out of every link), never added by a later share.
	linked bool
}

// Layout is who owns and shares what, drawn from the seed, and how it
// moves. Camera ids and passwords come from Vigil when the cameras are
// provisioned.
type Layout struct {
	Seed    int64
	Users   []User
	Cameras []*Camera
	byID    map[string]*Camera // set by index, read-only after

	mu     sync.RWMutex
	pairs  map[pairKey]*standing // guarded by mu
	byCode map[uint32][]codeRef  // guarded by mu
	stale  map[int][]string      // guarded by mu; secrets a user had: old passwords, deleted tokens
}

// pictureSizes are the picture sizes cameras use and restart with; all keep the
// block code's cells several pixels wide after JPEG coding.
func pictureSizes() [][2]int {
	return [][2]int{{160, 120}, {176, 144}, {192, 144}, {128, 96}, {224, 160}}
}

// newLayout draws owners, shares, still-only cameras and camera parameters.
func newLayout(seed int64, cameras, users int) *Layout {
	rng := rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x9e3779b97f4a7c15))
	l := &Layout{Seed: seed}
	for i := range users {
		l.Users = append(l.Users, User{Index: i, Name: fmt.Sprintf("canary-user-%03d", i+1)})
	}
	for i := range cameras {
		c := &Camera{Index: i, Owner: rng.IntN(users), uploads: map[[32]byte]*upload{}}
		for range rng.IntN(4) { // 0 to 3 shares
			if u := rng.IntN(users); u != c.Owner && !slices.Contains(c.Shares, u) {
				c.Shares = append(c.Shares, u)
			}
		}
		c.StillOnly = i%10 == 9 // one in ten: a battery camera that only uploads stills
		c.Audio = i%3 == 1      // one in three has a microphone
		c.Sub = i%4 == 2        // one in four publishes a sub stream
		sizes := pictureSizes()
		sz := sizes[rng.IntN(len(sizes))]
		c.Width, c.Height, c.Main = sz[0], sz[1], rng.IntN(2) == 0
		l.Cameras = append(l.Cameras, c)
	}
	return l
}

// index builds the lookup tables once the cameras have their ids. Nobody
// may see anything yet: household grants what the layout drew.
func (l *Layout) index() {
	l.pairs = map[pairKey]*standing{}
	l.byID = map[string]*Camera{}
	l.byCode = map[uint32][]codeRef{}
	l.stale = map[int][]string{}
	for _, c := range l.Cameras {
		l.byID[c.ID] = c
		code := sim.CodeFor(c.ID)
		l.byCode[code] = append(l.byCode[code], codeRef{c.ID, 0})
	}
}

// pair returns the standing of user and camera, made on first use. Caller
// holds mu for writing.
func (l *Layout) pair(user, camera string) *standing {
	k := pairKey{user, camera}
	s := l.pairs[k]
	if s == nil {
		s = &standing{}
		l.pairs[k] = s
	}
	return s
}

// May reports whether user may see camera, or is about to be let or kept
// from it (a change in flight).
func (l *Layout) May(user, camera string) bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	s := l.pairs[pairKey{user, camera}]
	return s != nil && (s.allowed || s.pending)
}

// settled returns the pair's standing, and false while a change is in flight.
func (l *Layout) settled(user, camera string) (standing, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	s := l.pairs[pairKey{user, camera}]
	if s == nil {
		return standing{}, true
	}
	return *s, !s.pending
}

// version returns how many times the pair's standing has changed.
func (l *Layout) version(user, camera string) uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if s := l.pairs[pairKey{user, camera}]; s != nil {
		return s.version
	}
	return 0
}

// visible lists the cameras user may see, no change in flight.
func (l *Layout) visible(user string) []*Camera {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var out []*Camera
	for _, c := range l.Cameras {
		if s := l.pairs[pairKey{user, c.ID}]; s != nil && s.allowed && !s.pending {
			out = append(out, c)
		}
	}
	return out
}

// linkedVisible returns the cameras user may see that their assistant
// links expose.
func (l *Layout) linkedVisible(user string) []*Camera {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var out []*Camera
	for _, c := range l.Cameras {
		if s := l.pairs[pairKey{user, c.ID}]; s != nil && s.allowed && !s.pending && s.linked {
			out = append(out, c)
		}
	}
	return out
}

// setLinked records whether user's assistant links expose camera.
func (l *Layout) setLinked(user, camera string, on bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pair(user, camera).linked = on
}

// unlinkAll records a release: no link exposes camera any more.
func (l *Layout) unlinkAll(camera string) {
	for i := range l.Users {
		l.setLinked(l.Users[i].Name, camera, false) // Name alone: the rest changes under mu
	}
}

// beginGrant records that a claim (share false) or a share of camera for
// user is about to be sent: the viewer's epoch for the camera starts now.
func (l *Layout) beginGrant(user, camera string, share bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.pair(user, camera)
	s.pending, s.allowed, s.share, s.epoch = true, false, share, time.Now()
	s.version++
}

// endGrant records the answer to a grant: ok means Vigil granted it.
func (l *Layout) endGrant(user, camera string, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.pair(user, camera)
	s.pending, s.allowed = false, ok
}

// beginRevoke records that user's right to camera is about to be revoked
// (a release, an unshare): no new visit counts on it from now on.
func (l *Layout) beginRevoke(user, camera string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.pair(user, camera)
	s.pending, s.allowed = true, false
	s.version++
}

// endRevoke records the answer to a revocation; a failed one leaves the
// pair pending (unknown) unless known is set.
func (l *Layout) endRevoke(user, camera string, known bool) {
	if !known {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pair(user, camera).pending = false
}

// owner returns camera's owner (-1: unclaimed), shares and claim code.
func (l *Layout) owner(c *Camera) (int, []int, string) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return c.Owner, slices.Clone(c.Shares), c.Claim
}

// setOwner records camera's new owner, shares and claim code.
func (l *Layout) setOwner(c *Camera, owner int, shares []int, claim string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c.Owner, c.Shares, c.Claim = owner, shares, claim
}

// user returns a copy of user i as it is now.
func (l *Layout) user(i int) User {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.Users[i]
}

// setPassword records user i's new password; the old one is stale.
func (l *Layout) setPassword(i int, pw string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stale[i] = append(l.stale[i], l.Users[i].Password)
	l.Users[i].Password, l.Users[i].Changed = pw, true
}

// setToken records user i's new API token.
func (l *Layout) setToken(i int, id, secret string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.Users[i].TokenID, l.Users[i].Token = id, secret
}

// addStale records a secret user i no longer has (a deleted API token).
func (l *Layout) addStale(i int, secret string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stale[i] = append(l.stale[i], secret)
}

// staleSecret returns one of user i's stale secrets, "" if none.
func (l *Layout) staleSecret(i int, rng *rand.Rand) string {
	l.mu.RLock()
	defer l.mu.RUnlock()
	s := l.stale[i]
	if len(s) == 0 {
		return ""
	}
	return s[rng.IntN(len(s))]
}

// notBefore returns the earliest capture time user may be shown of camera:
// their epoch, less shareSlack for a sharee (see shareSlack). Zero: the
// pair has no epoch.
func (l *Layout) notBefore(user, camera string) time.Time {
	l.mu.RLock()
	defer l.mu.RUnlock()
	s := l.pairs[pairKey{user, camera}]
	if s == nil || s.epoch.IsZero() {
		return time.Time{}
	}
	if s.share {
		return s.epoch.Add(-shareSlack)
	}
	return s.epoch
}

// Epoch slack. A handover needs none: before the new owner's claim is sent
// the camera's publishing run is ended, its picture generation closed and
// settleHandover waited, and Vigil ends the camera's session on the claim —
// everything made before the claim reached Vigil before it, and nothing of
// the old session may reach the new owner (Vigil drops it before the claim
// returns, and the canary lets the new owner look only after that). A
// share ends no session: frames the camera sent just before the share was
// made are still on their way (the camera proxies add up to 140 ms, a
// loaded host more) and Vigil, which dates a frame when it arrives, rightly
// counts them in the sharee's epoch. shareSlack covers that latency and no
// more: a GOP cache replayed from before the share is seconds old.
const (
	shareSlack     = time.Second
	settleHandover = time.Second
)

// label returns the current label of camera c's picture.
func (l *Layout) label(c *Camera) string {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return label(c.ID, c.gen)
}

// nextGeneration closes camera c's picture generation: from now on its
// pictures show the next one. Caller has ended the camera's publishing
// run; uploads in flight finish first (genMu).
func (l *Layout) nextGeneration(c *Camera) {
	c.genMu.Lock()
	defer c.genMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	c.closed = append(c.closed, time.Now())
	c.gen++
	code := sim.CodeFor(label(c.ID, c.gen))
	l.byCode[code] = append(l.byCode[code], codeRef{c.ID, c.gen})
}

// codes returns the cameras and generations a block code may be.
func (l *Layout) codes(code uint32) []codeRef {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return slices.Clone(l.byCode[code])
}

// closedAt returns when generation gen of camera ended, and false while it
// is current.
func (l *Layout) closedAt(camera string, gen int) (time.Time, bool) {
	c := l.byID[camera]
	if c == nil {
		return time.Time{}, false
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	if gen < len(c.closed) {
		return c.closed[gen], true
	}
	return time.Time{}, false
}

// Shares counts the shares in the layout.
func (l *Layout) Shares() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	n := 0
	for _, c := range l.Cameras {
		n += len(c.Shares)
	}
	return n
}

// recordUpload remembers the bytes of a camera's upload before it is sent.
func (c *Camera) recordUpload(sum [32]byte) *upload {
	c.uploadsMu.Lock()
	defer c.uploadsMu.Unlock()
	c.uploadsCounter++
	u := &upload{n: c.uploadsCounter, sent: time.Now()}
	c.uploads[sum] = u
	return u
}

// uploadDone records when Vigil answered an upload.
func (c *Camera) uploadDone(u *upload) {
	c.uploadsMu.Lock()
	defer c.uploadsMu.Unlock()
	u.done = time.Now()
}

// uploaded reports whether sum is one of the camera's uploads, and when
// Vigil answered it (zero while in flight).
func (c *Camera) uploaded(sum [32]byte) (time.Time, bool) {
	u, ok := c.upload(sum)
	return u.done, ok
}

// upload is the camera's upload whose bytes' sum is sum, if any.
func (c *Camera) upload(sum [32]byte) (upload, bool) {
	c.uploadsMu.Lock()
	defer c.uploadsMu.Unlock()
	u, ok := c.uploads[sum]
	if !ok {
		return upload{}, false
	}
	return *u, true
}
