package canary

import (
	"bufio"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"net"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/headers"
)

// credFlow is an attacker with a user's credential that no longer works,
// on a camera the user may see: a password changed since, an API token
// deleted since (on HTTP Basic or RTSP Digest), or an RTSP Digest answer
// made from an empty HA1 — what anyone who knows the user name can
// compute once a password change has left the user without one. Each must
// be refused (401, 403 or 404) with no media.
func credFlow(ctx context.Context, v *Visit) error {
	vis := v.c.layout.visible(v.User.Name)
	if len(vis) == 0 || !v.retarget(vis[v.rng.IntN(len(vis))]) || v.Attack {
		return nil
	}
	v.Attack, v.notBefore, v.Addr = true, time.Time{}, attackerAddr(v.rng.IntN(254))
	if v.rng.IntN(3) == 0 {
		return v.emptyDigest(ctx)
	}
	stale := v.c.layout.staleSecret(v.User.Index, v.rng)
	if stale == "" {
		return v.emptyDigest(ctx)
	}
	v.Secret = stale
	switch v.rng.IntN(3) {
	case 0:
		return rtspFlow(ctx, v)
	case 1:
		return v.still(ctx, v.camPath("/still.jpg"), true, false)
	default:
		return mp4Flow(ctx, v)
	}
}

// emptyDigest asks RTSP DESCRIBE for the visit's camera with a Digest
// answer computed from an empty HA1 (MD5 or SHA-256, as challenged).
func (v *Visit) emptyDigest(ctx context.Context) error {
	sha := v.rng.IntN(2) == 0
	code, err := rtspDescribe(ctx, v.RTSPHost, "/"+v.Camera.ID, func(ch headers.Authenticate, method, uri string) string {
		h, alg := md5.New, ""
		if sha {
			h, alg = sha256.New, `, algorithm=SHA-256`
		}
		resp := hexOf(h, ":"+ch.Nonce+":"+hexOf(h, method+":"+uri))
		return fmt.Sprintf(`Digest username=%q, realm=%q, nonce=%q, uri=%q, response=%q%s`,
			v.User.Name, ch.Realm, ch.Nonce, uri, resp, alg)
	}, sha)
	if err != nil {
		return err
	}
	switch code {
	case base.StatusUnauthorized, base.StatusForbidden, base.StatusNotFound:
		v.Refused()
	default:
		v.Served(fmt.Sprintf("not refused: RTSP DESCRIBE with a Digest answer from an empty HA1 answered %d", code))
	}
	return nil
}

func hexOf(h func() hash.Hash, s string) string {
	x := h()
	x.Write([]byte(s))
	return hex.EncodeToString(x.Sum(nil))
}

// rtspDescribe sends DESCRIBE for path without credentials, takes the
// Digest challenge (the SHA-256 one if sha and offered) and sends DESCRIBE
// again with the Authorization answer makes; it returns the second status.
func rtspDescribe(ctx context.Context, host, path string, answer func(ch headers.Authenticate, method, uri string) string, sha bool) (base.StatusCode, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	conn.SetDeadline(time.Now().Add(15 * time.Second))
	br := bufio.NewReader(conn)
	uri := "rtsp://" + host + path
	u, err := base.ParseURL(uri)
	if err != nil {
		return 0, err
	}
	ask := func(cseq string, auth string) (*base.Response, error) {
		req := base.Request{Method: base.Describe, URL: u, Header: base.Header{"CSeq": {cseq}, "Accept": {"application/sdp"}}}
		if auth != "" {
			req.Header["Authorization"] = base.HeaderValue{auth}
		}
		b, err := req.Marshal()
		if err != nil {
			return nil, err
		}
		if _, err := conn.Write(b); err != nil {
			return nil, err
		}
		var res base.Response
		if err := res.Unmarshal(br); err != nil {
			return nil, err
		}
		return &res, nil
	}
	res, err := ask("1", "")
	if err != nil {
		return 0, err
	}
	if res.StatusCode != base.StatusUnauthorized {
		return res.StatusCode, nil // no challenge: judged as it is
	}
	var ch headers.Authenticate
	found := false
	for _, h := range res.Header["WWW-Authenticate"] {
		var a headers.Authenticate
		if a.Unmarshal(base.HeaderValue{h}) != nil || a.Method != headers.AuthMethodDigest {
			continue
		}
		isSHA := a.Algorithm != nil && *a.Algorithm == headers.AuthAlgorithmSHA256
		if !found || isSHA == sha {
			ch, found = a, true
		}
	}
	if !found {
		return 0, fmt.Errorf("rtsp: no Digest challenge in %v", res.Header["WWW-Authenticate"])
	}
	res, err = ask("2", answer(ch, string(base.Describe), uri))
	if err != nil {
		return 0, err
	}
	return res.StatusCode, nil
}
