package auth

import (
	"sync"

	"vigil/internal/access"
)

// Cap bounds how many viewings each user holds open at once, across the
// outputs that share it (live.mp4 and MJPEG): a user's own players, not
// one household's camera count, are what it bounds. Make one with NewCap;
// it is safe for concurrent use.
type Cap struct {
	max int

	mu   sync.Mutex
	open map[access.UserID]int // guarded by mu; a user with none open is deleted
}

// NewCap returns a cap of max viewings per user; max <= 0 caps nothing.
func NewCap(max int) *Cap { return &Cap{max: max, open: map[access.UserID]int{}} }

// Take counts one more viewing of user and returns the function that gives
// its place back (call it once, when the viewing ends), or ok=false when
// user already holds the cap.
func (c *Cap) Take(user access.UserID) (release func(), ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.max > 0 && c.open[user] >= c.max {
		return nil, false
	}
	c.open[user]++
	var once sync.Once
	return func() { once.Do(func() { c.give(user) }) }, true
}

func (c *Cap) give(user access.UserID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open[user]--; c.open[user] <= 0 {
		delete(c.open, user)
	}
}

// Max is the cap per user (<= 0: none).
func (c *Cap) Max() int { return c.max }

// held is how many viewings user holds open.
func (c *Cap) held(user access.UserID) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.open[user]
}
