package canary

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"

	"vigil/internal/sim"
)

// User is a canary user: a household member who owns and is shared cameras.
type User struct {
	Name, Password string
	// GoogleToken is the access token of the user's Google link ("" for a
	// user who may see no camera).
	GoogleToken string
}

// Camera is a simulated camera and who may see it.
type Camera struct {
	Index          int
	ID, Password   string
	Claim          string
	Owner          int   // index into Layout.Users
	Shares         []int // indexes into Layout.Users
	StillOnly      bool  // never publishes video; only uploads stills
	Width, Height  int
	Main           bool // H.264 Main profile rather than Constrained Baseline
	uploadsMu      sync.Mutex
	uploads        map[[32]byte]int // sha256 of each upload's bytes → upload number
	uploadsCounter int
}

// Layout is who owns and shares what, drawn from the seed. Camera ids and
// passwords come from Vigil when the cameras are provisioned.
type Layout struct {
	Seed    int64
	Users   []User
	Cameras []*Camera
	may     map[string]map[string]bool // user name → camera id → may see
	byID    map[string]*Camera
	byCode  map[uint32][]string
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
		l.Users = append(l.Users, User{Name: fmt.Sprintf("canary-user-%03d", i+1)})
	}
	for i := range cameras {
		c := &Camera{Index: i, Owner: rng.IntN(users), uploads: map[[32]byte]int{}}
		for range rng.IntN(4) { // 0 to 3 shares
			if u := rng.IntN(users); u != c.Owner && !slices.Contains(c.Shares, u) {
				c.Shares = append(c.Shares, u)
			}
		}
		c.StillOnly = i%10 == 9 // one in ten: a battery camera that only uploads stills
		sizes := pictureSizes()
		sz := sizes[rng.IntN(len(sizes))]
		c.Width, c.Height, c.Main = sz[0], sz[1], rng.IntN(2) == 0
		l.Cameras = append(l.Cameras, c)
	}
	return l
}

// index builds the lookup tables once the cameras have their ids.
func (l *Layout) index() {
	l.may = map[string]map[string]bool{}
	l.byID = map[string]*Camera{}
	l.byCode = map[uint32][]string{}
	for _, u := range l.Users {
		l.may[u.Name] = map[string]bool{}
	}
	for _, c := range l.Cameras {
		l.byID[c.ID] = c
		l.may[l.Users[c.Owner].Name][c.ID] = true
		for _, s := range c.Shares {
			l.may[l.Users[s].Name][c.ID] = true
		}
		code := sim.CodeFor(c.ID)
		l.byCode[code] = append(l.byCode[code], c.ID)
	}
}

// May reports whether user may see camera.
func (l *Layout) May(user, camera string) bool { return l.may[user][camera] }

// visible lists the cameras user may see.
func (l *Layout) visible(user string) []*Camera {
	var out []*Camera
	for _, c := range l.Cameras {
		if l.may[user][c.ID] {
			out = append(out, c)
		}
	}
	return out
}

// Shares counts the shares in the layout.
func (l *Layout) Shares() int {
	n := 0
	for _, c := range l.Cameras {
		n += len(c.Shares)
	}
	return n
}

// recordUpload remembers the bytes of a camera's upload.
func (c *Camera) recordUpload(sum [32]byte) int {
	c.uploadsMu.Lock()
	defer c.uploadsMu.Unlock()
	c.uploadsCounter++
	c.uploads[sum] = c.uploadsCounter
	return c.uploadsCounter
}

// uploaded reports whether sum is one of the camera's uploads.
func (c *Camera) uploaded(sum [32]byte) bool {
	c.uploadsMu.Lock()
	defer c.uploadsMu.Unlock()
	_, ok := c.uploads[sum]
	return ok
}
