package google

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestServiceAccountSignIn: the reporter's credential signs a JWT with the
// service account's key, the token endpoint (a loopback stand-in for
// Google's) verifies it and issues an access token, which is reused.
func TestServiceAccountSignIn(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	var fetches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		parts := strings.Split(r.Form.Get("assertion"), ".")
		if r.Form.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" || len(parts) != 3 {
			http.Error(w, `{"error":"invalid_grant"}`, 400)
			return
		}
		sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
		sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
		claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
		var c struct{ Iss, Scope, Aud string }
		json.Unmarshal(claims, &c)
		if rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, sum[:], sig) != nil || c.Iss != "vigil@project.iam.example" ||
			c.Scope != homeGraphScope {
			http.Error(w, `{"error":"invalid_grant"}`, 400)
			return
		}
		fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"access_token":"hg-access","token_type":"Bearer","expires_in":3600}`))
	}))
	defer srv.Close()
	der := x509.MarshalPKCS1PrivateKey(key)
	sa, _ := json.Marshal(map[string]string{"type": "service_account", "client_email": "vigil@project.iam.example",
		"private_key": string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: der})), "token_uri": srv.URL})
	path := filepath.Join(t.TempDir(), "sa.json")
	os.WriteFile(path, sa, 0o600)

	token, err := ServiceAccountToken(path)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if tok, err := token(context.Background()); err != nil || tok != "hg-access" {
			t.Fatalf("token: %q %v", tok, err)
		}
	}
	if n := fetches.Load(); n != 1 {
		t.Fatalf("%d sign-ins for three calls, want 1 (the token is reused)", n)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"type":"authorized_user"}`), 0o600)
	if _, err := ServiceAccountToken(bad); err == nil {
		t.Fatal("a key file that is not a service account's was accepted")
	}
}
