package auth

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"strings"
)

// Realm is the RTSP and HTTP digest realm; HA1 values depend on it, so
// changing it invalidates every stored credential.
const Realm = "vigil"

// Credential is what Vigil stores instead of a password. RTSP Digest
// (RFC 2617, RFC 7616) makes the server compute with HA1 = H(user:realm:pass),
// so HA1 is kept for both digest algorithms cameras use, and SHA-256 of the
// password for Basic. The password itself is random and high-entropy (see
// NewPassword), which is what makes these unsalted hashes acceptable.
// All hashes are lowercase hex.
type Credential struct {
	User       string
	HA1MD5     string // MD5(user:realm:pass)
	HA1SHA256  string // SHA-256(user:realm:pass)
	PassSHA256 string // SHA-256(pass)
}

// HashCredential returns the Credential for user and password in Realm.
func HashCredential(user, password string) Credential {
	a1 := user + ":" + Realm + ":" + password
	m := md5.Sum([]byte(a1))
	s := sha256.Sum256([]byte(a1))
	p := sha256.Sum256([]byte(password))
	return Credential{
		User:       user,
		HA1MD5:     hex.EncodeToString(m[:]),
		HA1SHA256:  hex.EncodeToString(s[:]),
		PassSHA256: hex.EncodeToString(p[:]),
	}
}

// passwordBytes is the entropy of a generated password: 160 bits, which
// base32 encodes to 32 characters without padding.
const passwordBytes = 20

var password32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewPassword returns a random password from crypto/rand with 160 bits of
// entropy: 32 characters of lowercase base32 (a-z, 2-7), safe in URLs.
func NewPassword() (string, error) {
	b := make([]byte, passwordBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("new password: %w", err)
	}
	return strings.ToLower(password32.EncodeToString(b)), nil
}

// usableBy is the one check every path makes before it compares a secret
// with c — Digest (MD5 and SHA-256), Basic, API tokens, stream tokens bound
// to the password: c must belong to user, and neither user nor any hash
// may be empty or malformed. An empty credential is the absence of one (a
// password change clears the generated one), and an empty HA1 yields a
// Digest answer that anyone can compute from the challenge.
func (c Credential) usableBy(user string) bool {
	ok := user != "" && user == c.User && isHex(c.HA1MD5, md5.Size) &&
		isHex(c.HA1SHA256, sha256.Size) && isHex(c.PassSHA256, sha256.Size)
	return credentialCheck(ok)
}

// Usable reports whether c can match anything at all (see usableBy).
func (c Credential) Usable() bool { return c.usableBy(c.User) }

func isHex(s string, size int) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == size
}

// DigestAlgorithm is the hash of an RTSP or HTTP Digest answer.
type DigestAlgorithm int

// The algorithms of RFC 7616 that cameras and players use.
const (
	DigestMD5 DigestAlgorithm = iota
	DigestSHA256
)

// DigestHA1 returns the stored HA1 = H(user:realm:pass) that a Digest
// answer from user is checked with (RFC 7616 §3.4.2), or ok false when c is
// not user's or cannot match anything (usableBy): a caller must then refuse.
func (c Credential) DigestHA1(user string, alg DigestAlgorithm) (ha1 string, ok bool) {
	if !c.usableBy(user) {
		return "", false
	}
	if alg == DigestSHA256 {
		return c.HA1SHA256, true
	}
	return c.HA1MD5, true
}

// CheckPassword reports whether password matches c, comparing SHA-256
// digests in constant time. A credential that is not Usable matches
// nothing.
func (c Credential) CheckPassword(password string) bool {
	if !c.Usable() {
		return false
	}
	want, err := hex.DecodeString(c.PassSHA256)
	if err != nil || len(want) != sha256.Size {
		return false
	}
	got := sha256.Sum256([]byte(password))
	return subtle.ConstantTimeCompare(got[:], want) == 1
}
