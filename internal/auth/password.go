package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Passwords people choose are hashed with argon2id (RFC 9106) in the PHC
// string format. The parameters follow OWASP's minimum for argon2id: 19 MiB,
// two passes, one lane.
const (
	argonMemory  = 19 * 1024
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	// MinPasswordLength is the shortest password a person may choose.
	MinPasswordLength = 10
)

// ErrWeakPassword is returned for a password shorter than MinPasswordLength.
var ErrWeakPassword = fmt.Errorf("password must be at least %d characters", MinPasswordLength)

// ErrHashBusy is returned when every argon2id slot is taken and the queue
// is full: the caller should answer 503 with Retry-After, not wait.
var ErrHashBusy = errors.New("too many password checks at once; retry in a moment")

var b64 = base64.RawStdEncoding

// HashPassword returns the argon2id PHC string of password.
func HashPassword(password string) (string, error) {
	if len(password) < MinPasswordLength {
		return "", ErrWeakPassword
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// CheckPasswordHash reports whether password matches the PHC string phc.
func CheckPasswordHash(phc, password string) bool {
	f := strings.Split(phc, "$")
	if len(f) != 6 || f[1] != "argon2id" || f[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(f[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m > 1<<20 || t > 16 || p == 0 {
		return false
	}
	salt, err1 := b64.DecodeString(f[4])
	want, err2 := b64.DecodeString(f[5])
	if errors.Join(err1, err2) != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// Hasher runs argon2id with bounded concurrency. Each hash or check holds
// argonMemory (19 MiB) and a core for tens of milliseconds, so without a
// bound strangers sending passwords could make Vigil spend memory without
// limit. Every hash and check of a chosen password goes through one Hasher.
type Hasher struct {
	// admitted holds a token per caller hashing or waiting (slots plus
	// queue); slots one per caller hashing.
	admitted, slots chan struct{}
}

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
	return &Hasher{admitted: make(chan struct{}, slots+queue), slots: make(chan struct{}, slots)}
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

// Check is CheckPasswordHash within the bound. An empty phc (no chosen
// password) matches nothing and costs nothing.
func (h *Hasher) Check(ctx context.Context, phc, password string) (bool, error) {
	if phc == "" {
		return false, nil
	}
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	defer h.release()
	return CheckPasswordHash(phc, password), nil
}
