package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"runtime"
	"sync"
	"time"
)

// Hasher runs argon2id with bounded concurrency. Each hash or check holds
// argonMemory (19 MiB) and a core for tens of milliseconds, so without a
// bound strangers sending passwords could make Vigil spend memory without
// limit. Every hash and check of a chosen password goes through one Hasher.
type Hasher struct {
	// admitted holds a token per caller hashing or waiting (slots plus
	// queue); slots one per caller hashing.
	admitted, slots chan struct{}

	// verified remembers recent successful checks, so that a client
	// sending its chosen password with every request (HTTP Basic) costs
	// one argon2id check per verifiedTTL, not one per request. Only
	// successes are kept, so every guess is hashed. Keys are HMACs of the
	// hash and the password under a key that lives only in this process.
	key      []byte
	mu       sync.Mutex
	verified map[[sha256.Size]byte]time.Time // guarded by mu: when each was verified
	now      func() time.Time
}

// A remembered check counts for verifiedTTL; at most verifiedMax are kept.
const (
	verifiedTTL = 5 * time.Minute
	verifiedMax = 4096
)

// NewHasher lets slots hashes run at once and queue more wait for one;
// beyond that, Hash and Check fail with ErrHashBusy. slots <= 0 means one
// per core (GOMAXPROCS), queue < 0 twice that.
func NewHasher(slots, queue int) *Hasher {
	if slots <= 0 {
		slots = runtime.GOMAXPROCS(0)
	}
	if queue < 0 {
		queue = 2 * slots
	}
	key := make([]byte, 32)
	rand.Read(key) // never fails (crypto/rand)
	return &Hasher{admitted: make(chan struct{}, slots+queue), slots: make(chan struct{}, slots),
		key: key, verified: map[[sha256.Size]byte]time.Time{}, now: time.Now}
}

// acquire takes a slot, waiting in the queue if there is room in it. The
// wait is short by construction: at most queue/slots hashes long.
func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.admitted <- struct{}{}:
	default:
		return ErrHashBusy
	}
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		<-h.admitted
		return ctx.Err()
	}
}

func (h *Hasher) release() {
	<-h.slots
	<-h.admitted
}

// Hash is HashPassword within the bound.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if len(password) < MinPasswordLength {
		return "", ErrWeakPassword
	}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	return HashPassword(password)
}

// Check is CheckPasswordHash within the bound, or the answer of a
// successful check of the same hash and password within verifiedTTL. An
// empty phc (no chosen password) matches nothing and costs nothing.
func (h *Hasher) Check(ctx context.Context, phc, password string) (bool, error) {
	if phc == "" {
		return false, nil
	}
	mac := hmac.New(sha256.New, h.key)
	mac.Write([]byte(phc))
	mac.Write([]byte{0})
	mac.Write([]byte(password))
	var k [sha256.Size]byte
	mac.Sum(k[:0])
	if h.remembered(k) {
		return true, nil
	}
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	ok := CheckPasswordHash(phc, password)
	h.release()
	if ok {
		h.remember(k)
	}
	return ok, nil
}

func (h *Hasher) remembered(k [sha256.Size]byte) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	at, ok := h.verified[k]
	return ok && h.now().Sub(at) < verifiedTTL
}

// remember keeps a successful check; when full it drops the expired ones,
// or else any one.
func (h *Hasher) remember(k [sha256.Size]byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	if len(h.verified) >= verifiedMax {
		for old, at := range h.verified {
			if now.Sub(at) >= verifiedTTL {
				delete(h.verified, old)
			}
		}
		for old := range h.verified {
			if len(h.verified) < verifiedMax {
				break
			}
			delete(h.verified, old)
		}
	}
	h.verified[k] = now
}
