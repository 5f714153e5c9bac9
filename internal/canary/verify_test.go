package canary

import (
	"bytes"
	"image"
	"image/jpeg"
	"reflect"
	"testing"
	"time"

	"vigil/internal/sim"
)

// testLayout has three cameras: a owned by u1 and shared with u2, b owned
// by u2, c owned by u3.
func testLayout() *Layout {
	l := &Layout{Users: []User{{Name: "u1"}, {Name: "u2", Index: 1}, {Name: "u3", Index: 2}}}
	for i, id := range []string{"cam-aaaa", "cam-bbbb", "cam-cccc"} {
		l.Cameras = append(l.Cameras, &Camera{Index: i, ID: id, Owner: i, uploads: map[[32]byte]*upload{}})
	}
	l.Cameras[0].Shares = []int{1}
	l.index()
	for _, c := range l.Cameras {
		l.beginGrant(l.Users[c.Owner].Name, c.ID, false)
		l.endGrant(l.Users[c.Owner].Name, c.ID, true)
	}
	l.beginGrant("u2", "cam-aaaa", true)
	l.endGrant("u2", "cam-aaaa", true)
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
			ok := c.accessUnit("rtsp", tc.user, tc.asked, time.Time{}, tc.au)
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
	if !c.picture("still", "u3", "cam-cccc", time.Time{}, img) {
		t.Error("own picture refused")
	}
	if c.picture("still", "u1", "cam-aaaa", time.Time{}, img) {
		t.Error("a stranger's picture passed")
	}
	v := &Visit{User: l.Users[1], Camera: l.Cameras[1], c: c, output: "still"}
	l.Cameras[0].uploadDone(l.Cameras[0].recordUpload(sha256Of(buf.Bytes())))
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

// TestCheckerEpochs: what was captured before the viewer's epoch is a
// violation — a frame by its stamp (a sharee with shareSlack), a still by
// its picture generation, an upload by when Vigil took it — and what came
// after is not.
func TestCheckerEpochs(t *testing.T) {
	keys := sim.StaticKeys(testSecret)
	at := func(camera string, ts time.Time) [][]byte {
		return [][]byte{sim.StampNALU(keys(camera), sim.Stamp{Camera: camera, Seq: 1, Time: ts}), {0x41, 0x9a}}
	}
	l := testLayout()
	c := newChecker(l, keys)
	a := l.Cameras[0]
	// Generation 0 of camera a ends (a handover), an upload of it was
	// answered before; then u3 claims it.
	old := sha256Of([]byte("an upload of generation 0"))
	a.uploadDone(a.recordUpload(old))
	l.nextGeneration(a)
	time.Sleep(2 * time.Millisecond)
	l.beginGrant("u3", a.ID, false)
	l.endGrant("u3", a.ID, true)
	nb := l.notBefore("u3", a.ID)
	if !c.accessUnit("rtsp", "u3", a.ID, nb, at(a.ID, time.Now())) {
		t.Error("a frame captured after the claim refused")
	}
	if c.accessUnit("rtsp", "u3", a.ID, nb, at(a.ID, nb.Add(-time.Millisecond))) {
		t.Error("a frame captured 1 ms before the claim passed")
	}
	picture := func(label string) image.Image {
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, sim.DrawPicture(label, 160, 120), nil); err != nil {
			t.Fatal(err)
		}
		img, _ := jpeg.Decode(bytes.NewReader(buf.Bytes()))
		return img
	}
	if c.picture("still", "u3", a.ID, nb, picture(a.ID)) {
		t.Error("a still of the previous owner's generation passed")
	}
	if !c.picture("still", "u3", a.ID, nb, picture(label(a.ID, 1))) {
		t.Error("a still of the new generation refused")
	}
	if !c.picture("still", "u1", a.ID, time.Time{}, picture(a.ID)) {
		t.Error("a still with no epoch to judge refused")
	}
	if c.uploadBytes("still", "u3", a.ID, nb, []byte("an upload of generation 0")) {
		t.Error("an upload taken before the claim passed")
	}
	// A sharee: frames in flight when the share was made pass, a GOP cache
	// from seconds before does not.
	l.beginGrant("u2", "cam-cccc", true)
	l.endGrant("u2", "cam-cccc", true)
	nb = l.notBefore("u2", "cam-cccc")
	epoch := nb.Add(shareSlack)
	if !c.accessUnit("rtsp", "u2", "cam-cccc", nb, at("cam-cccc", epoch.Add(-shareSlack/2))) {
		t.Error("a frame in flight when the share was made refused")
	}
	if c.accessUnit("rtsp", "u2", "cam-cccc", nb, at("cam-cccc", epoch.Add(-3*shareSlack))) {
		t.Error("a frame from before the share passed")
	}
	counts, _, _ := c.snapshot()
	if want := map[string]int{KindBeforeEpoch: 4}; !reflect.DeepEqual(counts, want) {
		t.Errorf("violations %v, want %v", counts, want)
	}
}

// TestAttackOvertaken: media served on an attack is a violation, unless a
// grant of the pair overtook the visit.
func TestAttackOvertaken(t *testing.T) {
	l := testLayout()
	c := newChecker(l, sim.StaticKeys(testSecret))
	v := &Visit{User: l.Users[2], c: c, output: "still"}
	if !v.retarget(l.Cameras[0]) || !v.Attack {
		t.Fatal("u3 may see camera a")
	}
	l.beginGrant("u3", "cam-aaaa", true)
	l.endGrant("u3", "cam-aaaa", true)
	v.Served("overtaken")
	w := &Visit{User: l.Users[2], c: c, output: "still"}
	w.retarget(l.Cameras[1])
	w.Served("served")
	counts, _, _ := c.snapshot()
	if want := map[string]int{KindAttackServed: 1}; !reflect.DeepEqual(counts, want) || c.out("still").overtaken.Load() != 1 {
		t.Errorf("violations %v, overtaken %d; want %v and 1", counts, c.out("still").overtaken.Load(), want)
	}
}

// TestAudioAlone: audio may stream only beside checked video.
func TestAudioAlone(t *testing.T) {
	keys := sim.StaticKeys(testSecret)
	l := testLayout()
	c := newChecker(l, keys)
	with := &Visit{User: l.Users[0], c: c, output: "rtsp"}
	with.retarget(l.Cameras[0])
	with.Frame(stamped("cam-aaaa", keys("cam-aaaa")))
	with.Audio(audioAlone)
	with.AudioDone()
	short := &Visit{User: l.Users[0], c: c, output: "rtsp"}
	short.retarget(l.Cameras[0])
	short.Audio(audioAlone - 1) // a join waiting for its keyframe
	short.AudioDone()
	alone := &Visit{User: l.Users[0], c: c, output: "rtsp"}
	alone.retarget(l.Cameras[0])
	alone.Audio(audioAlone)
	alone.AudioDone()
	counts, _, _ := c.snapshot()
	if want := map[string]int{KindAudioAlone: 1}; !reflect.DeepEqual(counts, want) {
		t.Errorf("violations %v, want %v", counts, want)
	}
}
