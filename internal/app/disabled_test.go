package app

import (
	"context"
	"encoding/json"
	"testing"

	"vigil/internal/auth"
	"vigil/internal/household"
	"vigil/internal/store"
)

// TestDisabledCamera holds the disabled camera to auth.RightsOf: it is
// listed, marked disabled, to its owner and its sharee (nobody else);
// nobody views it; its owner still manages it (shares, history, release).
func TestDisabledCamera(t *testing.T) {
	a := startApp(t, "", nil)
	ctx := context.Background()
	pw := map[string]string{}
	for _, n := range []string{"olga", "vera", "sam"} {
		pw[n] = a.addUser(t, n)
	}
	id, _ := store.NewDeviceID()
	secret, _ := auth.NewPassword()
	if err := a.store.CreateDevice(ctx, store.Device{ID: id, Name: "attic", Credential: auth.HashCredential(string(id), secret),
		Owner: "u-olga", Disabled: true}); err != nil {
		t.Fatal(err)
	}
	if err := a.store.PutShare(ctx, store.Share{Device: id, Viewer: "u-vera"}); err != nil {
		t.Fatal(err)
	}
	cam := "/api/cameras/" + string(id)

	for user, role := range map[string]string{"olga": auth.RoleOwner, "vera": auth.RoleViewer, "sam": ""} {
		code, body := a.call(t, "GET", "/api/cameras", user, pw[user], nil)
		var cams []household.Camera
		if code != 200 || json.Unmarshal(body, &cams) != nil {
			t.Fatalf("%s lists: %d %s", user, code, body)
		}
		var got *household.Camera
		for i := range cams {
			if cams[i].ID == id {
				got = &cams[i]
			}
		}
		switch {
		case role == "" && got != nil:
			t.Errorf("%s, a stranger, is shown the disabled camera: %+v", user, *got)
		case role != "" && (got == nil || got.Role != role || !got.Disabled):
			t.Errorf("%s's listing of the disabled camera: %+v, want role %s, disabled", user, got, role)
		}
	}
	for user, want := range map[string]int{"olga": 403, "vera": 403, "sam": 404} {
		for _, out := range []string{"/live.mp4", "/still.jpg", "/mjpeg"} {
			if code, _, body := a.get(t, cam+out, user, pw[user]); code != want {
				t.Errorf("%s GET %s of the disabled camera: %d %s, want %d", user, out, code, body, want)
			}
		}
	}
	if code, body := a.call(t, "POST", cam+"/tokens", "olga", pw["olga"], nil); code != 403 {
		t.Errorf("stream token for the disabled camera: %d %s, want 403", code, body)
	}
	for _, user := range []string{"vera", "sam"} {
		if code, body := a.call(t, "GET", cam+"/shares", user, pw[user], nil); code != 404 {
			t.Errorf("%s reads the disabled camera's shares: %d %s, want 404", user, code, body)
		}
	}
	for _, step := range []struct {
		method, path string
		want         int
	}{
		{"GET", cam + "/shares", 200}, {"GET", cam + "/access", 200},
		{"DELETE", cam + "/shares/vera", 204}, {"PUT", cam + "/shares/sam", 204}, {"DELETE", cam, 200},
	} {
		if code, body := a.call(t, step.method, step.path, "olga", pw["olga"], nil); code != step.want {
			t.Errorf("owner %s %s of the disabled camera: %d %s, want %d", step.method, step.path, code, body, step.want)
		}
	}
}
