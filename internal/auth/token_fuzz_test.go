package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"vigil/internal/access"
)

// FuzzVerifyToken: a stream token comes from a URL anyone can type. Verify
// must refuse what is not a token with a sentinel error and never panic,
// both for raw strings (the signature stops them) and for bodies signed
// with the right key (which reach the field parsers behind the signature:
// a bug there is reachable by whoever can make Mint sign odd fields).
func FuzzVerifyToken(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	tk := &Tokens{master: []byte("0123456789abcdef0123456789abcdef"), now: func() time.Time { return now }}
	for _, tok := range []Token{
		{User: "vera", Device: "cam-abc", Stream: "main", Audience: "google", Expires: now.Add(10 * time.Minute)},
		{User: "vera", Device: "cam-abc", Audience: "web", Expires: now.Add(time.Minute),
			Binding: Binding{Via: ViaSession, ID: "s1"}},
		{User: "u", Device: "cam-1", Stream: "sub", Audience: "rtsp", Expires: now.Add(-time.Minute)},
	} {
		s := tk.Mint(tok)
		body, _, _ := strings.Cut(s, ".")
		raw, _ := tokenEncoding.DecodeString(body)
		f.Add(s, false)
		f.Add(string(raw), true)
	}
	for _, s := range []string{"", ".", "!!!.???", "v3|1|a|b|c|d|e|f|g", "v3|500000|u|cam-1|main|web||9999999999|0",
		"v3|500000|u|CAM|main|web||9999999999|0", "v3|500000|u|cam-1|main|web|x|9999999999|0",
		"v3|-1|u|cam-1||web||1|1", "v3|500000|u|cam-1||web||1e400|1"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, sign bool) {
		if sign {
			// s is a body: sign it under the key its index names, if any.
			var index uint64
			if f := strings.Split(s, "|"); len(f) > 1 {
				index = parseIndexForFuzz(f[1])
			}
			mac := hmac.New(sha256.New, tk.key(index))
			mac.Write([]byte(s))
			s = tokenEncoding.EncodeToString([]byte(s)) + "." + tokenEncoding.EncodeToString(mac.Sum(nil))
		}
		tok, err := tk.Verify(s)
		switch {
		case err == nil, errors.Is(err, ErrTokenExpired) && tok.Device != "":
			if _, perr := access.ParseDeviceID(string(tok.Device)); perr != nil {
				t.Fatalf("accepted a token for device %q: %v", tok.Device, perr)
			}
			if tok.Stream != "" {
				if _, perr := access.ParseStreamID(string(tok.Stream)); perr != nil {
					t.Fatalf("accepted a token for stream %q: %v", tok.Stream, perr)
				}
			}
			if strings.Contains(tok.User, "|") {
				t.Fatalf("accepted a token for user %q", tok.User)
			}
		case errors.Is(err, ErrBadToken), errors.Is(err, ErrTokenExpired):
			if tok != (Token{}) && !errors.Is(err, ErrTokenExpired) {
				t.Fatalf("refused token came back with fields: %+v", tok)
			}
		default:
			t.Fatalf("Verify(%q): error %v is neither ErrBadToken nor ErrTokenExpired", s, err)
		}
		again, err2 := tk.Verify(s)
		if again != tok || !errors.Is(err2, err) && err2 != err {
			t.Fatalf("Verify(%q) twice: %+v %v, then %+v %v", s, tok, err, again, err2)
		}
	})
}

// parseIndexForFuzz reads a key index the way a forger would hope Verify
// does, so that a signed body reaches the fields behind the signature.
func parseIndexForFuzz(s string) uint64 {
	var n uint64
	for _, c := range s {
		if c < '0' || c > '9' || n > 1<<40 {
			return n
		}
		n = n*10 + uint64(c-'0')
	}
	return n
}
