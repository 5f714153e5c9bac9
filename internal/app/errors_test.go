package app

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"vigil/internal/auth"
)

// TestUnexpectedErrorsAnswer500WithoutDetail: a failure the error table
// does not know, inside a camera-management route, is a 500 with a generic
// text; the database's words stay in the log. (It was a 400 carrying
// err.Error().)
func TestUnexpectedErrorsAnswer500WithoutDetail(t *testing.T) {
	a := startApp(t, "", nil)
	cam := a.addCamera(t, "porch")
	olga, _ := a.addUser(t, "olga"), a.addUser(t, "vera")
	code, _ := auth.NewClaimCode()
	if err := a.store.ResetDevice(context.Background(), deviceID(cam), auth.ClaimHash(code)); err != nil {
		t.Fatal(err)
	}
	if s, b := a.call(t, "POST", "/api/cameras/claim", "olga", olga, map[string]string{"code": code}); s != 200 {
		t.Fatalf("claim: %d %s", s, b)
	}
	db, err := sql.Open("sqlite", filepath.Join(a.cfg.DataDir, "vigil.db")+"?_pragma=busy_timeout(10000)") // the server writes too
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const secret = "disk sector 7 of /var/lib/vigil is unreadable"
	if _, err := db.Exec(`CREATE TRIGGER broken BEFORE INSERT ON shares BEGIN SELECT RAISE(FAIL, '` + secret + `'); END`); err != nil {
		t.Fatal(err)
	}
	s, b := a.call(t, "PUT", "/api/cameras/"+cam.ID+"/shares/vera", "olga", olga, nil)
	if s != 500 || bytes.Contains(b, []byte("sector")) || !bytes.Contains(b, []byte("internal error")) {
		t.Fatalf("share on a failing store: %d %q, want 500 \"internal error\" without the store's text", s, b)
	}
}
