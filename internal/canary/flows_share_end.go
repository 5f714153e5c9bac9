package canary

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"time"

	"github.com/bluenviron/gortsplib/v5"
)

// OutShareEnd is RTSP over TCP played by the sharee of a time-limited
// share across its end (see world.timedShare).
const OutShareEnd = "rtsp-past-share-end"

// MoveTimedShare is a time-limited share made, played past its end and
// removed.
const MoveTimedShare = "time-limited share played past its end"

const (
	// timedShareFor is how long a time-limited share lasts: the sharee's
	// player starts at the camera's first keyframe after the share (its
	// GOP cache is older) and plays a few seconds before the end.
	timedShareFor = 5 * time.Second
	// timedSharePast is how long the player plays on after the end.
	timedSharePast = 3 * time.Second
	// endSlack is how far past the share's end a frame may have been
	// captured. Vigil dates a frame when it arrives, after the camera
	// stamped it, and its grant ends with the share (a few microseconds
	// later: two clock readings), so none is owed; the slack only keeps
	// the verdict off the clock's grain.
	endSlack = 250 * time.Millisecond
)

// timedShare shares a camera with a user until a few seconds from now
// (PUT …/shares/{user} {"until": …}) and has the sharee play it over RTSP
// on TCP through a clean path, where the viewer keeps up and the hub's
// deliverer writes it from the camera's goroutine, on past the end: a
// frame captured after the end (less endSlack) is a violation. The share
// is then removed. Meanwhile the pair is a change in flight: no other
// visit judges it.
func (w *world) timedShare(ctx context.Context, rng *rand.Rand) (string, error) {
	c := w.l.Cameras[rng.IntN(len(w.l.Cameras))]
	if c.StillOnly || !c.busy.TryLock() {
		return "", nil
	}
	defer c.busy.Unlock()
	owner, shares, _ := w.l.owner(c)
	sharee := rng.IntN(len(w.l.Users))
	if owner < 0 || sharee == owner || slices.Contains(shares, sharee) {
		return "", nil
	}
	unlock, ok := w.lockUsers(owner, sharee)
	if !ok {
		return "", nil
	}
	defer unlock()
	o, u := w.l.user(owner), w.l.user(sharee)
	path := "/api/cameras/" + c.ID + "/shares/" + u.Name
	w.l.beginRevoke(u.Name, c.ID)
	from := time.Now()
	until := from.Add(timedShareFor)
	if err := apiCall(ctx, w.srv, o, http.MethodPut, path, fmt.Sprintf(`{"until":%q}`, until.UTC().Format(time.RFC3339Nano)), nil); err != nil {
		w.l.endRevoke(u.Name, c.ID, statusOf(err) != 0) // no answer: the share may have been made
		return MoveTimedShare, fmt.Errorf("share %s with %s until %s: %w", c.ID, u.Name, until.Format(time.RFC3339Nano), err)
	}
	vr := newRand(rng.Uint64())
	base, rtspHost := w.sched.cleanPaths(vr)
	v := &Visit{User: u, Secret: u.Password, Camera: c, Addr: householdAddr(sharee), HTTP: w.hc, Base: base, RTSPHost: rtspHost,
		rng: vr, c: w.vs.c, output: OutShareEnd, notBefore: from.Add(-shareSlack),
		spanFrom: from.Add(-shareSlack), spanTo: until.Add(endSlack)}
	w.vs.c.out(OutShareEnd).sessions.Add(1)
	vctx, cancel := context.WithDeadline(ctx, until.Add(timedSharePast))
	// The session's error is no verdict: Vigil ends it at the share's end.
	_ = playRTSP(vctx, v, gortsplib.ProtocolTCP)
	cancel()
	err := apiCall(ctx, w.srv, o, http.MethodDelete, path, "", nil)
	w.l.endRevoke(u.Name, c.ID, err == nil || statusOf(err) == http.StatusNotFound)
	if err != nil && statusOf(err) != http.StatusNotFound {
		return MoveTimedShare, fmt.Errorf("unshare %s from %s: %w", c.ID, u.Name, err)
	}
	return MoveTimedShare, nil
}
