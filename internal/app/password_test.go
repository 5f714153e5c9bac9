package app

import (
	"bufio"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"hash"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/headers"

	"vigil/internal/auth"
)

// rawRTSP is one RTSP connection that sends requests as written, for
// answers a well-behaved client library would not make.
type rawRTSP struct {
	conn net.Conn
	br   *bufio.Reader
	addr string
	cseq int
}

func dialRTSP(t *testing.T, a *testApp) *rawRTSP {
	t.Helper()
	conn, err := net.Dial("tcp", a.RTSPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawRTSP{conn: conn, br: bufio.NewReader(conn), addr: a.RTSPAddr().String()}
}

// do sends method for path (with its query) and reads the response. A
// SETUP asks for interleaved TCP.
func (c *rawRTSP) do(t *testing.T, method base.Method, path string, h base.Header) base.Response {
	t.Helper()
	u, err := base.ParseURL("rtsp://" + c.addr + "/" + path)
	if err != nil {
		t.Fatal(err)
	}
	c.cseq++
	h["CSeq"] = base.HeaderValue{strconv.Itoa(c.cseq)}
	if method == base.Setup {
		h["Transport"] = base.HeaderValue{"RTP/AVP/TCP;unicast;interleaved=0-1"}
	}
	b, err := base.Request{Method: method, URL: u, Header: h}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.conn.Write(b); err != nil {
		t.Fatal(err)
	}
	var res base.Response
	if err := res.Unmarshal(c.br); err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return res
}

// rtspDigestStatus sends one RTSP request for path as user, answering the
// server's Digest challenge from ha1 (hex) with alg, on a fresh connection,
// and returns the status.
func (a *testApp) rtspDigestStatus(t *testing.T, method base.Method, path, user, ha1 string, alg headers.AuthAlgorithm) base.StatusCode {
	t.Helper()
	c := dialRTSP(t, a)
	defer c.conn.Close()
	res := c.do(t, method, path, base.Header{})
	var chal headers.Authenticate
	if res.StatusCode != base.StatusUnauthorized || chal.Unmarshal(res.Header["WWW-Authenticate"]) != nil {
		t.Fatalf("%s %s without credentials: %d %v, want a Digest challenge", method, path, res.StatusCode, res.Header)
	}
	h := sha256.New
	if alg == headers.AuthAlgorithmMD5 {
		h = md5.New
	}
	uri := "rtsp://" + c.addr + "/" + path
	hexOf := func(s string) string { x := h(); x.Write([]byte(s)); return hex.EncodeToString(x.Sum(nil)) }
	authz := headers.Authorization{Method: headers.AuthMethodDigest, Username: user, Realm: chal.Realm,
		Nonce: chal.Nonce, URI: uri, Algorithm: &alg}
	authz.Response = hexOf(ha1 + ":" + chal.Nonce + ":" + hexOf(string(method)+":"+uri))
	return c.do(t, method, path, base.Header{"Authorization": authz.Marshal()}).StatusCode
}

func ha1Of(h func() hash.Hash, user, pass string) string {
	x := h()
	x.Write([]byte(user + ":" + auth.Realm + ":" + pass))
	return hex.EncodeToString(x.Sum(nil))
}

// TestPasswordChangeLeavesNoEmptyCredential: a user provisioned with a
// generated password (as `vigil user add` and the admin are) chooses a
// password. Anyone who knows the user name must not then answer RTSP
// Digest from the empty HA1 (MD5 or SHA-256), on DESCRIBE or SETUP, nor
// with the old password. The new password signs in; RTSP works again with
// a new API token.
func TestPasswordChangeLeavesNoEmptyCredential(t *testing.T) {
	a := startApp(t, "", nil)
	cam := a.addCamera(t, "porch")
	a.run(t, cam)
	generated := a.addUser(t, "olga")
	claimFor(t, a, cam, "olga")
	algs := map[string]headers.AuthAlgorithm{"MD5": headers.AuthAlgorithmMD5, "SHA-256": headers.AuthAlgorithmSHA256}
	hashOf := map[string]func() hash.Hash{"MD5": md5.New, "SHA-256": sha256.New}
	for name, alg := range algs {
		if c := a.rtspDigestStatus(t, base.Describe, cam.ID, "olga", ha1Of(hashOf[name], "olga", generated), alg); c != base.StatusOK {
			t.Fatalf("DESCRIBE with the generated password (%s) before the change: %d", name, c)
		}
		if c := a.rtspDigestStatus(t, base.Setup, cam.ID+"/trackID=0", "olga", ha1Of(hashOf[name], "olga", generated), alg); c != base.StatusOK {
			t.Fatalf("SETUP with the generated password (%s) before the change: %d", name, c)
		}
	}

	sess := a.session(t, "olga", generated)
	newPW := "olga's own long passphrase"
	if code, b := a.send(t, "POST", "/api/password", map[string]string{"current": generated, "new": newPW}, sess); code != 204 {
		t.Fatalf("password change: %d %s", code, b)
	}

	for name, alg := range algs {
		for m, path := range map[base.Method]string{base.Describe: cam.ID, base.Setup: cam.ID + "/trackID=0"} {
			if c := a.rtspDigestStatus(t, m, path, "olga", "", alg); c != base.StatusUnauthorized {
				t.Errorf("%s answered from an empty HA1 (%s) after the password change: %d, want 401", m, name, c)
			}
			if c := a.rtspDigestStatus(t, m, path, "olga", ha1Of(hashOf[name], "olga", generated), alg); c != base.StatusUnauthorized {
				t.Errorf("%s with the old generated password (%s): %d, want 401", m, name, c)
			}
		}
	}

	if _, _, code := a.login(t, "olga", newPW); code != 200 {
		t.Fatalf("sign-in with the new password: %d", code)
	}
	code, b := a.send(t, "POST", "/api/tokens", map[string]any{"name": "player"}, sess)
	var key struct{ Token string }
	if json.Unmarshal(b, &key); code != 201 {
		t.Fatalf("API token in the session that changed the password: %d %s", code, b)
	}
	for name, alg := range algs {
		if c := a.rtspDigestStatus(t, base.Describe, cam.ID, "olga", ha1Of(hashOf[name], "olga", key.Token), alg); c != base.StatusOK {
			t.Errorf("DESCRIBE with a new API token (%s): %d, want 200", name, c)
		}
	}
}
