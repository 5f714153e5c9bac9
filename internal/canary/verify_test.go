package canary

import (
	"bytes"
	"image/jpeg"
	"reflect"
	"testing"
	"time"

	"vigil/internal/sim"
)

// testLayout has three cameras: a owned by u1 and shared with u2, b owned
// by u2, c owned by u3.
func testLayout() *Layout {
	l := &Layout{Users: []User{{Name: "u1"}, {Name: "u2"}, {Name: "u3"}}}
	for i, id := range []string{"cam-aaaa", "cam-bbbb", "cam-cccc"} {
		l.Cameras = append(l.Cameras, &Camera{Index: i, ID: id, Owner: i, uploads: map[[32]byte]int{}})
	}
	l.Cameras[0].Shares = []int{1}
	l.index()
	return l
}

var testSecret = []byte("canary test secret")

func stamped(camera string, key []byte) [][]byte {
	return [][]byte{sim.StampNALU(key, sim.Stamp{Camera: camera, Seq: 1, Time: time.Now()}), {0x41, 0x9a}}
}

// TestCheckerVerdicts: the viewer side's verdict on each kind of object.
func TestCheckerVerdicts(t *testing.T) {
	keys := sim.StaticKeys(testSecret)
	for _, tc := range []struct {
		name, user, asked string
		au                [][]byte
		want              string // violation kind, "" for none
	}{
		{"own camera", "u1", "cam-aaaa", stamped("cam-aaaa", keys("cam-aaaa")), ""},
		{"shared camera", "u2", "cam-aaaa", stamped("cam-aaaa", keys("cam-aaaa")), ""},
		{"another camera the viewer may see", "u2", "cam-bbbb", stamped("cam-aaaa", keys("cam-aaaa")), KindWrongCamera},
		{"a stranger's camera", "u1", "cam-aaaa", stamped("cam-cccc", keys("cam-cccc")), KindForeign},
		{"forged stamp", "u1", "cam-aaaa", stamped("cam-aaaa", keys("cam-cccc")), KindBadStamp},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newChecker(testLayout(), keys)
			ok := c.accessUnit("rtsp", tc.user, tc.asked, tc.au)
			counts, _, first := c.snapshot()
			if ok != (tc.want == "") || tc.want != "" && (counts[tc.want] != 1 || first < 0) {
				t.Fatalf("ok %v, violations %v; want %q", ok, counts, tc.want)
			}
		})
	}
}

// TestCheckerPicturesAndUploads: block codes and upload bytes.
func TestCheckerPicturesAndUploads(t *testing.T) {
	l := testLayout()
	c := newChecker(l, sim.StaticKeys(testSecret))
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, sim.DrawPicture("cam-cccc", 160, 120), nil); err != nil {
		t.Fatal(err)
	}
	img, _ := jpeg.Decode(bytes.NewReader(buf.Bytes()))
	if !c.picture("still", "u3", "cam-cccc", img) {
		t.Error("own picture refused")
	}
	if c.picture("still", "u1", "cam-aaaa", img) {
		t.Error("a stranger's picture passed")
	}
	v := &Visit{User: l.Users[1], Camera: l.Cameras[1], c: c, output: "still"}
	l.Cameras[0].recordUpload(sha256Of(buf.Bytes()))
	if v.Upload(buf.Bytes()) {
		t.Error("camera a's upload passed as camera b's")
	}
	counts, _, _ := c.snapshot()
	if want := map[string]int{KindForeign: 1, KindWrongCamera: 1}; !reflect.DeepEqual(counts, want) {
		t.Errorf("violations %v, want %v", counts, want)
	}
}

// TestLayoutFromSeed: a seed draws the same layout every time.
func TestLayoutFromSeed(t *testing.T) {
	a, b := newLayout(42, 30, 10), newLayout(42, 30, 10)
	for i := range a.Cameras {
		x, y := a.Cameras[i], b.Cameras[i]
		if x.Owner != y.Owner || !reflect.DeepEqual(x.Shares, y.Shares) || x.Width != y.Width || x.Main != y.Main {
			t.Fatalf("camera %d differs: %+v vs %+v", i, x, y)
		}
	}
	if newLayout(43, 30, 10).Cameras[0].Owner == a.Cameras[0].Owner && newLayout(44, 30, 10).Cameras[0].Owner == a.Cameras[0].Owner &&
		newLayout(45, 30, 10).Cameras[0].Owner == a.Cameras[0].Owner {
		t.Error("other seeds draw the same owners")
	}
}
