package rtsp

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"hash"
	"net/url"
	"strings"

	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/headers"

	"vigil/internal/auth"
)

// credentials returns the user name a request's Authorization header claims,
// and whether it has one at all.
func credentials(req *base.Request) (headers.Authorization, bool, error) {
	v, ok := req.Header["Authorization"]
	if !ok {
		return headers.Authorization{}, false, nil
	}
	var a headers.Authorization
	if err := a.Unmarshal(v); err != nil {
		return a, true, fmt.Errorf("malformed Authorization header: %w", err)
	}
	if a.Username == "" {
		// gortsplib keeps the connection open and re-challenges in its own
		// realm when the user name is empty: refuse it here.
		return a, true, fmt.Errorf("malformed Authorization header: no user name")
	}
	return a, true, nil
}

// verifyDigest checks a Digest response (RFC 2617 §3.2.2, RFC 7616) against a
// stored credential. Basic is refused: it would put the password on the wire.
// The digest URI must name the same path as the request, so a response made
// for one camera cannot be replayed against another. Whether the credential
// is the claimed user's and can match at all is auth's one check
// (Credential.DigestHA1): an empty HA1 must never be computed with.
func verifyDigest(req *base.Request, a headers.Authorization, c auth.Credential, nonce string) error {
	if a.Method != headers.AuthMethodDigest {
		return fmt.Errorf("only Digest authentication is accepted")
	}
	if a.Realm != auth.Realm || a.Nonce != nonce {
		return fmt.Errorf("stale or foreign nonce or realm")
	}
	if !samePath(req.URL, a.URI) {
		return fmt.Errorf("digest uri %q does not match the request", a.URI)
	}
	h, alg := md5.New, auth.DigestMD5
	if a.Algorithm != nil && *a.Algorithm != headers.AuthAlgorithmMD5 {
		h, alg = sha256.New, auth.DigestSHA256
	}
	ha1, ok := c.DigestHA1(a.Username, alg)
	if !ok {
		return fmt.Errorf("wrong user, or no password to answer with")
	}
	want := hexHash(h, ha1+":"+nonce+":"+hexHash(h, string(req.Method)+":"+a.URI))
	if subtle.ConstantTimeCompare([]byte(want), []byte(a.Response)) != 1 {
		return fmt.Errorf("wrong password")
	}
	return nil
}

func hexHash(h func() hash.Hash, s string) string {
	x := h()
	x.Write([]byte(s))
	return hex.EncodeToString(x.Sum(nil))
}

// samePath reports whether a digest URI (absolute or a bare path) names the
// request's camera; clients sign the stream URL or a track URL under it.
func samePath(reqURL *base.URL, uri string) bool {
	u, err := url.Parse(uri)
	if err != nil {
		return false
	}
	want := firstSegment(reqURL.Path)
	return want != "" && firstSegment(u.Path) == want
}

func firstSegment(p string) string {
	p = strings.TrimPrefix(p, "/")
	if i := strings.IndexByte(p, '/'); i >= 0 {
		p = p[:i]
	}
	return p
}
