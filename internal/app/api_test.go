package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"vigil/internal/auth"
	"vigil/internal/household"
)

// call makes a JSON API request as user and returns the status and body.
func (a *testApp) call(t *testing.T, method, path, user, pass string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, a.url(path), rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	return res.StatusCode, out
}

func TestClaimShareUnshareThroughTheAPI(t *testing.T) {
	a := startApp(t, "", nil)
	cam := a.addCamera(t, "porch")
	a.run(t, cam)
	olga, vera, sam := a.addUser(t, "olga"), a.addUser(t, "vera"), a.addUser(t, "sam")
	code, _ := auth.NewClaimCode()
	if err := a.store.ResetDevice(context.Background(), deviceID(cam), auth.ClaimHash(code)); err != nil {
		t.Fatal(err)
	}
	list := func(user, pass string) []household.Camera {
		t.Helper()
		status, body := a.call(t, "GET", "/api/cameras", user, pass, nil)
		var cams []household.Camera
		if status != 200 || json.Unmarshal(body, &cams) != nil {
			t.Fatalf("list as %s: %d %s", user, status, body)
		}
		return cams
	}
	if s, _ := a.call(t, "GET", "/api/cameras", "", "", nil); s != 401 {
		t.Fatalf("anonymous list: %d", s)
	}
	if s, _ := a.call(t, "POST", "/api/cameras/claim", "olga", olga, map[string]string{"code": "nope-nope"}); s != 404 {
		t.Fatalf("wrong claim code: %d", s)
	}
	if s, b := a.call(t, "POST", "/api/cameras/claim", "olga", olga, map[string]string{"code": code}); s != 200 {
		t.Fatalf("claim: %d %s", s, b)
	}
	a.waitBack(t, deviceID(cam)) // the claim ended the camera's session
	if s, _ := a.call(t, "POST", "/api/cameras/claim", "sam", sam, map[string]string{"code": code}); s != 404 {
		t.Fatalf("a spent code claimed again: %d", s)
	}
	if cams := list("olga", olga); len(cams) != 1 || cams[0].ID != deviceID(cam) || cams[0].Role != "owner" || !cams[0].Online {
		t.Fatalf("olga's cameras: %+v", cams)
	}
	shares := "/api/cameras/" + cam.ID + "/shares"
	if s, _ := a.call(t, "PUT", shares+"/vera", "sam", sam, nil); s != 404 {
		t.Fatalf("a stranger shared someone else's camera: %d", s)
	}
	if s, b := a.call(t, "PUT", shares+"/vera", "olga", olga, nil); s != 204 {
		t.Fatalf("share: %d %s", s, b)
	}
	if cams := list("vera", vera); len(cams) != 1 || cams[0].Role != "viewer" {
		t.Fatalf("vera's cameras: %+v", cams)
	}
	if cams := list("sam", sam); len(cams) != 0 {
		t.Fatalf("sam sees %+v", cams)
	}
	if s, b := a.call(t, "GET", shares, "olga", olga, nil); s != 200 || !bytes.Contains(b, []byte(`"user":"vera"`)) {
		t.Fatalf("shares: %d %s", s, b)
	}
	if s, _ := a.call(t, "GET", shares, "vera", vera, nil); s != 404 {
		t.Fatalf("a viewer read the share list: %d", s)
	}
	if s, _, _ := a.get(t, "/api/cameras/"+cam.ID+"/still.jpg", "vera", vera); s != 200 {
		t.Fatalf("vera's still while shared: %d", s)
	}
	if s, b := a.call(t, "DELETE", shares+"/vera", "olga", olga, nil); s != 204 {
		t.Fatalf("unshare: %d %s", s, b)
	}
	if s, _, _ := a.get(t, "/api/cameras/"+cam.ID+"/still.jpg", "vera", vera); s != 404 {
		t.Fatalf("vera's still after unshare: %d", s)
	}
	if cams := list("vera", vera); len(cams) != 0 {
		t.Fatalf("vera still lists %+v", cams)
	}
	// The operator lost the camera when it was claimed.
	if s, _, _ := a.get(t, "/api/cameras/"+cam.ID+"/still.jpg", AdminName, adminPassword); s != 404 {
		t.Fatalf("admin watched a claimed camera: %d", s)
	}
	// Olga sells the camera: shares and ownership go, a new code comes back.
	if s, b := a.call(t, "PUT", shares+"/vera", "olga", olga, nil); s != 204 {
		t.Fatalf("share again: %d %s", s, b)
	}
	if s, _ := a.call(t, "DELETE", "/api/cameras/"+cam.ID, "vera", vera, nil); s != 404 {
		t.Fatalf("a viewer released the camera: %d", s)
	}
	s, b := a.call(t, "DELETE", "/api/cameras/"+cam.ID, "olga", olga, nil)
	var rel struct {
		Code string `json:"claim_code"`
	}
	if s != 200 || json.Unmarshal(b, &rel) != nil || rel.Code == "" {
		t.Fatalf("release: %d %s", s, b)
	}
	if len(list("olga", olga)) != 0 || len(list("vera", vera)) != 0 {
		t.Fatal("the released camera is still listed")
	}
	if s, _, _ := a.get(t, "/api/cameras/"+cam.ID+"/still.jpg", "vera", vera); s != 404 {
		t.Fatalf("vera watched a released camera: %d", s)
	}
	if s, _ := a.call(t, "POST", "/api/cameras/claim", "sam", sam, map[string]string{"code": rel.Code}); s != 200 {
		t.Fatalf("the next owner's claim: %d", s)
	}
	if cams := list("sam", sam); len(cams) != 1 || cams[0].Role != "owner" {
		t.Fatalf("sam's cameras: %+v", cams)
	}
}
