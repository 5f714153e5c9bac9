package rtsp

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/headers"

	"vigil/internal/access"
	vauth "vigil/internal/auth"
)

// parsePathCases is the table of TestParsePath and the seeds of FuzzParsePath.
var parsePathCases = []struct {
	path   string
	device access.DeviceID
	stream access.StreamID
	ok     bool
}{
	{"/cam-aaa", "cam-aaa", access.StreamMain, true},
	{"cam-aaa", "cam-aaa", access.StreamMain, true},
	{"/cam-aaa/", "cam-aaa", access.StreamMain, true},
	{"/cam-aaa/main", "cam-aaa", access.StreamMain, true},
	{"/cam-aaa/sub", "cam-aaa", access.StreamSub, true},
	{"/cam-aaa/sub/", "cam-aaa", access.StreamSub, true},
	{"", "", "", false},
	{"/", "", "", false},
	{"//", "", "", false},
	{"/cam-aaa/other", "", "", false},
	{"/cam-aaa/sub/extra", "", "", false},
	{"/cam-aaa//sub", "", "", false},
	{"/CAM-AAA", "", "", false},
	{"/ca", "", "", false},
	{"/-cam", "", "", false},
	{"/cam_aaa", "", "", false},
	{"/cam-aaa\x00", "", "", false},
	{"/cam-aaa\n", "", "", false},
	{"/cam-aaa%2fsub", "", "", false},
	{"/../cam-aaa", "", "", false},
	{"/cam-aaa/trackID=0", "", "", false},
	{"/" + strings.Repeat("a", 65), "", "", false},
	{"/" + strings.Repeat("a", 64), access.DeviceID(strings.Repeat("a", 64)), access.StreamMain, true},
	{"/cam-äaa", "", "", false},
}

func TestParsePath(t *testing.T) {
	for _, c := range parsePathCases {
		t.Run(c.path, func(t *testing.T) {
			got, err := parsePath(c.path)
			if (err == nil) != c.ok {
				t.Fatalf("parsePath(%q) = %+v, %v; want ok=%v", c.path, got, err, c.ok)
			}
			if c.ok && (got.device != c.device || got.stream != c.stream) {
				t.Fatalf("parsePath(%q) = %+v; want %s/%s", c.path, got, c.device, c.stream)
			}
		})
	}
}

var deviceRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{2,63}$`)

// FuzzParsePath: parsePath never panics, and whatever it accepts names a
// valid device and a known stream and is the same target as its canonical
// form, so two spellings cannot reach two cameras.
func FuzzParsePath(f *testing.F) {
	for _, c := range parsePathCases {
		f.Add(c.path)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got, err := parsePath(p)
		if err != nil {
			return
		}
		if !deviceRE.MatchString(string(got.device)) {
			t.Fatalf("parsePath(%q) accepted device %q", p, got.device)
		}
		if got.stream != access.StreamMain && got.stream != access.StreamSub {
			t.Fatalf("parsePath(%q) accepted stream %q", p, got.stream)
		}
		if !strings.Contains(p, string(got.device)) {
			t.Fatalf("parsePath(%q) made up device %q", p, got.device)
		}
		again, err := parsePath("/" + string(got.device) + "/" + string(got.stream))
		if err != nil || again != got {
			t.Fatalf("canonical form of %q: %+v, %v; want %+v", p, again, err, got)
		}
	})
}

// digestCases seed FuzzVerifyDigest: a raw header, the request's method and
// URL, and the fields of a header the fuzz body builds and signs itself.
type digestSeed struct {
	header, method, reqURL, user, password, uri string
	sha                                         bool
}

const fuzzNonce = "0123456789abcdef0123456789abcdef"

var digestSeeds = []digestSeed{
	{"", "DESCRIBE", "rtsp://h/cam-aaa", "cam-aaa", "pw-cam-aaa", "rtsp://h/cam-aaa", false},
	{"", "ANNOUNCE", "rtsp://h/cam-aaa/sub", "cam-aaa", "pw-cam-aaa", "rtsp://h/cam-aaa/sub", true},
	{"", "SETUP", "rtsp://h/cam-aaa/trackID=0", "cam-aaa", "pw-cam-aaa", "/cam-aaa/", false},
	{"", "DESCRIBE", "rtsp://h/cam-bbb", "cam-aaa", "pw-cam-aaa", "rtsp://h/cam-aaa", false},
	{"", "DESCRIBE", "rtsp://h/cam-aaa", "cam-aaa", "pw-cam-bbb", "rtsp://h/cam-aaa", false},
	{"", "DESCRIBE", "rtsp://h/cam-aaa", "cam-bbb", "pw-cam-aaa", "rtsp://h/cam-aaa", false},
	{"", "DESCRIBE", "rtsp://h//cam-aaa", "cam-aaa", "pw-cam-aaa", "//cam-aaa", false},
	{"", "DESCRIBE", "rtsp://h/cam-aaa", "cam-aaa", "pw-cam-aaa", "*", false},
	{"", "DESCRIBE", "rtsp://h/cam-aaa", "cam-aaa", "pw-cam-aaa", "%zz", false},
	{"", "DESCRIBE", "rtsp://h/cam-aaa", "cam-aaa", "pw-cam-aaa", "rtsp://h/cam%2Daaa", false},
	{`Digest username="cam-aaa", realm="vigil", nonce="` + fuzzNonce + `", uri="rtsp://h/cam-aaa", response="00000000000000000000000000000000"`,
		"DESCRIBE", "rtsp://h/cam-aaa", "", "", "", false},
	{`Digest username="cam-aaa", realm="vigil", nonce="` + fuzzNonce + `", uri="rtsp://h/cam-aaa", response="", algorithm="SHA-256"`,
		"DESCRIBE", "rtsp://h/cam-aaa", "", "", "", false},
	{"Basic Y2FtLWFhYTpwdy1jYW0tYWFh", "DESCRIBE", "rtsp://h/cam-aaa", "", "", "", false},
	{"Digest ", "DESCRIBE", "rtsp://h/cam-aaa", "", "", "", false},
	{`Digest username="a,b", realm=vigil`, "DESCRIBE", "rtsp://h/cam-aaa", "", "", "", false},
	{"Negotiate x", "OPTIONS", "rtsp://h/", "", "", "", false},
}

// FuzzVerifyDigest feeds arbitrary Authorization headers and URLs through
// credentials and verifyDigest for the credential of cam-aaa. Nothing may
// panic, and verifyDigest may accept only a Digest response computed, by
// code independent of the server's, from cam-aaa's password for this nonce,
// the request's method and a URI naming the request's camera.
func FuzzVerifyDigest(f *testing.F) {
	for _, s := range digestSeeds {
		f.Add(s.header, s.method, s.reqURL, s.user, s.password, s.uri, s.sha)
	}
	cred := vauth.HashCredential("cam-aaa", "pw-cam-aaa")
	f.Fuzz(func(t *testing.T, header, method, reqURL, user, password, uri string, sha bool) {
		u, err := base.ParseURL(reqURL)
		if err != nil {
			return
		}
		req := &base.Request{Method: base.Method(method), URL: u, Header: base.Header{}}
		if header == "" {
			header = signedHeader(method, user, password, uri, sha)
		}
		req.Header["Authorization"] = base.HeaderValue{header}
		a, provided, err := credentials(req)
		if !provided {
			t.Fatal("credentials: header not seen")
		}
		if err != nil {
			return
		}
		if verifyDigest(req, a, cred, fuzzNonce) != nil {
			return
		}
		// Accepted: check everything independently.
		if a.Method != headers.AuthMethodDigest {
			t.Fatalf("accepted method %v", a.Method)
		}
		if a.Username != "cam-aaa" || a.Realm != vauth.Realm || a.Nonce != fuzzNonce {
			t.Fatalf("accepted user %q realm %q nonce %q", a.Username, a.Realm, a.Nonce)
		}
		h := md5.New
		if a.Algorithm != nil && *a.Algorithm == headers.AuthAlgorithmSHA256 {
			h = sha256.New
		}
		want := hexOf(h, hexOf(h, "cam-aaa:"+vauth.Realm+":pw-cam-aaa")+":"+fuzzNonce+":"+hexOf(h, method+":"+a.URI))
		if a.Response != want {
			t.Fatalf("accepted response %q for uri %q; the right one is %q", a.Response, a.URI, want)
		}
		du, err := url.Parse(a.URI)
		if err != nil {
			t.Fatalf("accepted unparsable uri %q", a.URI)
		}
		reqCam, uriCam := camSegment(u.Path), camSegment(du.Path)
		if reqCam == "" || reqCam != uriCam {
			t.Fatalf("accepted uri %q (camera %q) for request %q (camera %q)", a.URI, uriCam, reqURL, reqCam)
		}
	})
}

// camSegment is the first path segment, the camera's id.
func camSegment(p string) string {
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return strings.SplitN(p[1:], "/", 2)[0]
}

// signedHeader builds a Digest header for user and password, as a client does.
func signedHeader(method, user, password, uri string, sha bool) string {
	h, alg := md5.New, "MD5"
	if sha {
		h, alg = sha256.New, "SHA-256"
	}
	resp := hexOf(h, hexOf(h, user+":"+vauth.Realm+":"+password)+":"+fuzzNonce+":"+hexOf(h, method+":"+uri))
	return `Digest username="` + user + `", realm="` + vauth.Realm + `", nonce="` + fuzzNonce +
		`", uri="` + uri + `", response="` + resp + `", algorithm="` + alg + `"`
}

func hexOf(h func() hash.Hash, s string) string {
	x := h()
	x.Write([]byte(s))
	return hex.EncodeToString(x.Sum(nil))
}

// TestVerifyDigestSeeds pins what the signed seeds of FuzzVerifyDigest
// expect, so the fuzz body's accepting branch is known to be reachable.
func TestVerifyDigestSeeds(t *testing.T) {
	cred := vauth.HashCredential("cam-aaa", "pw-cam-aaa")
	accept := map[int]bool{0: true, 1: true, 2: true, 9: true}
	for i, s := range digestSeeds {
		u, err := base.ParseURL(s.reqURL)
		if err != nil {
			t.Fatal(err)
		}
		h := s.header
		if h == "" {
			h = signedHeader(s.method, s.user, s.password, s.uri, s.sha)
		}
		req := &base.Request{Method: base.Method(s.method), URL: u, Header: base.Header{"Authorization": {h}}}
		a, _, err := credentials(req)
		if err == nil {
			err = verifyDigest(req, a, cred, fuzzNonce)
		}
		if (err == nil) != accept[i] {
			t.Errorf("seed %d (%s %s, uri %q): err %v; want accepted=%v", i, s.method, s.reqURL, s.uri, err, accept[i])
		}
	}
}

// TestVerifyDigestRefusesEmptyHA1: what a password change leaves of a
// generated password (a user name with no hashes, or nothing at all) must
// refuse the answer anyone can compute from an empty HA1, for MD5 and
// SHA-256.
func TestVerifyDigestRefusesEmptyHA1(t *testing.T) {
	u, _ := base.ParseURL("rtsp://h/cam-aaa")
	for _, cred := range []vauth.Credential{{User: "olga"}, {}} {
		for _, sha := range []bool{false, true} {
			h, alg := md5.New, "MD5"
			if sha {
				h, alg = sha256.New, "SHA-256"
			}
			resp := hexOf(h, ":"+fuzzNonce+":"+hexOf(h, "DESCRIBE:rtsp://h/cam-aaa"))
			header := `Digest username="olga", realm="` + vauth.Realm + `", nonce="` + fuzzNonce +
				`", uri="rtsp://h/cam-aaa", response="` + resp + `", algorithm="` + alg + `"`
			req := &base.Request{Method: base.Describe, URL: u, Header: base.Header{"Authorization": {header}}}
			a, _, err := credentials(req)
			if err != nil {
				t.Fatal(err)
			}
			if err := verifyDigest(req, a, cred, fuzzNonce); err == nil {
				t.Errorf("%s answer from an empty HA1 accepted for credential %+v", alg, cred)
			}
		}
	}
}
