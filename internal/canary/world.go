package canary

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Moves of the world, as reported beside the faults.
const (
	MoveHandover     = "handover (release, claim by another household)"
	MoveReshare      = "share revoked, granted again"
	MoveShare        = "share granted to another user"
	MovePassword     = "password change"
	MoveTokenDeleted = "API token deleted"
	MoveFailed       = "move failed (pair left unjudged)"
	MoveFirstLook    = "first look after a grant"
)

// world moves the layout while the load runs: owners release cameras and
// other households claim them, shares are revoked and granted again,
// passwords change and API tokens are deleted — through Vigil's JSON API,
// as people do — and after each grant the new viewer looks at once (the
// moment a cache from before would show). Every change is recorded in the
// layout before its request is sent (see standing), so that viewers judge
// what they receive against the epochs.
type world struct {
	l      *Layout
	srv    *server
	fleet  *fleet
	sched  *schedule
	vs     *viewers
	log    *slog.Logger
	hc     *http.Client // the first looks' client
	users  []sync.Mutex // held by a move that acts as, or for, the user
	looks  sync.WaitGroup
	failed func()
	// releases counts the releases made (one in two keeps its footage).
	releases atomic.Int64
}

func newWorld(l *Layout, srv *server, fl *fleet, sched *schedule, vs *viewers, log *slog.Logger) *world {
	return &world{l: l, srv: srv, fleet: fl, sched: sched, vs: vs, log: log, users: make([]sync.Mutex, len(l.Users)),
		hc: &http.Client{Timeout: 30 * time.Second}}
}

// run runs n movers until ctx ends, then waits for the first looks.
func (w *world) run(ctx context.Context, n int, seed int64) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { w.mover(ctx, newRand(uint64(seed)^0xa5a5a5a5+uint64(i)*104729)) })
	}
	wg.Wait()
	w.looks.Wait()
}

// mover makes one move after another, each while Vigil is not being
// restarted (the schedule's world lock), with a short pause between. Its
// first moves go round the kinds, so that even a short run makes each.
func (w *world) mover(ctx context.Context, rng *rand.Rand) {
	moves := []struct {
		weight int
		do     func(context.Context, *rand.Rand) (string, error)
	}{{4, w.handover}, {2, w.reshare}, {4, w.password}, {2, w.rotateToken}, {1, w.timedShare}}
	total := 0
	for _, m := range moves {
		total += m.weight
	}
	pick := func() func(context.Context, *rand.Rand) (string, error) {
		x := rng.IntN(total)
		for _, m := range moves {
			if x -= m.weight; x < 0 {
				return m.do
			}
		}
		return moves[0].do
	}
	for n := 0; ctx.Err() == nil; {
		do := pick()
		if n < len(moves) { // the first round: move n, until it is made
			do = moves[n].do
		}
		w.sched.world.RLock()
		kind, err := do(ctx, rng)
		w.sched.world.RUnlock()
		switch {
		case err != nil && ctx.Err() == nil:
			w.sched.add(MoveFailed, 1)
			w.vs.c.fail(moveOutput+kind, err)
			w.log.Info("canary move failed", "move", kind, "error", err)
		case err == nil && kind != "":
			w.sched.add(kind, 1)
		}
		if kind != "" || n >= len(moves) {
			n++
		}
		// A pause of about a second: with one mover per 20 cameras, each
		// camera changes hands every few minutes and each user's password
		// every few minutes (in the short run, every 10 to 20 s), so that
		// viewers mostly see cameras, not refusals. Handovers and password
		// changes weigh most: issue 11 wants 300 of each in a full run
		// (a run with one mover per 25 cameras and equal weights made 261).
		sleep(ctx, time.Duration(500+rng.IntN(1000))*time.Millisecond)
	}
}

// lockUsers takes the users' move locks, all or none.
func (w *world) lockUsers(us ...int) (unlock func(), ok bool) {
	var held []int
	unlock = func() {
		for _, u := range held {
			w.users[u].Unlock()
		}
	}
	for _, u := range us {
		if u < 0 || slices.Contains(held, u) {
			continue
		}
		if !w.users[u].TryLock() {
			unlock()
			return nil, false
		}
		held = append(held, u)
	}
	return unlock, true
}

// handover: the owner releases a camera (Vigil answers with a new claim
// code), its picture generation is closed with its publishing run, and
// another user claims it and may share it on. The new owner's epoch is
// when their claim is sent.
func (w *world) handover(ctx context.Context, rng *rand.Rand) (string, error) {
	c := w.l.Cameras[rng.IntN(len(w.l.Cameras))]
	if !c.busy.TryLock() {
		return "", nil
	}
	defer c.busy.Unlock()
	owner, shares, claim := w.l.owner(c)
	if owner < 0 && claim == "" { // a release whose answer was lost
		return "", nil
	}
	next := rng.IntN(len(w.l.Users))
	unlock, ok := w.lockUsers(owner, next)
	if !ok || next == owner {
		if ok {
			unlock()
		}
		return "", nil
	}
	defer unlock()
	if owner >= 0 {
		// One release in two, the first included, keeps its recordings
		// for its household (an export, see exportFlow): what the owner
		// may see until the release.
		keep, from := w.releases.Add(1)%2 == 1, w.l.notBefore(w.l.Users[owner].Name, c.ID)
		path := "/api/cameras/" + c.ID
		if keep {
			path += "?keep_days=1"
		}
		parties := append([]int{owner}, shares...)
		for _, u := range parties {
			w.l.beginRevoke(w.l.Users[u].Name, c.ID)
		}
		var out struct {
			Claim string `json:"claim_code"`
		}
		err := apiCall(ctx, w.srv, w.l.user(owner), http.MethodDelete, path, "", &out)
		if keep && err == nil && !from.IsZero() {
			w.vs.c.exports.add(kept{user: w.l.Users[owner].Name, camera: c.ID, from: from, until: time.Now()})
		}
		w.l.unlinkAll(c.ID) // the release may have happened even if its answer was lost
		if err != nil || out.Claim == "" {
			// No claim code: the camera stays out of the moves, its
			// parties in flight for good.
			w.l.setOwner(c, -1, nil, "")
			return MoveHandover, fmt.Errorf("release %s: %w (claim code %q)", c.ID, err, out.Claim)
		}
		for _, u := range parties {
			w.l.endRevoke(w.l.Users[u].Name, c.ID, true)
		}
		claim = out.Claim
		w.l.setOwner(c, -1, nil, claim)
	}
	if !c.StillOnly {
		w.fleet.halt(c)
	}
	w.l.nextGeneration(c)
	if !c.StillOnly {
		w.fleet.run(ctx, c)
	}
	sleep(ctx, settleHandover)
	if err := grant(ctx, w.srv, w.l, w.l.user(next), c, -1, claim); err != nil {
		if statusOf(err) == 0 { // claimed or not: the camera leaves the moves
			w.l.setOwner(c, -1, nil, "")
		}
		return MoveHandover, err
	}
	w.l.setOwner(c, next, nil, "")
	w.look(ctx, rng, next, c)
	if rng.IntN(2) == 0 {
		if s := rng.IntN(len(w.l.Users)); s != next {
			if err := grant(ctx, w.srv, w.l, w.l.user(next), c, s, ""); err == nil {
				w.l.setOwner(c, next, []int{s}, "")
				w.look(ctx, rng, s, c)
			}
		}
	}
	return MoveHandover, nil
}

// reshare revokes a share and grants it again (a new epoch), or grants a
// share to another user; the sharee looks at once.
func (w *world) reshare(ctx context.Context, rng *rand.Rand) (string, error) {
	c := w.l.Cameras[rng.IntN(len(w.l.Cameras))]
	if !c.busy.TryLock() {
		return "", nil
	}
	defer c.busy.Unlock()
	owner, shares, _ := w.l.owner(c)
	if owner < 0 {
		return "", nil
	}
	kind, sharee := MoveShare, rng.IntN(len(w.l.Users))
	if len(shares) > 0 && rng.IntN(3) != 0 {
		kind, sharee = MoveReshare, shares[rng.IntN(len(shares))]
	} else if sharee == owner || slices.Contains(shares, sharee) {
		return "", nil
	}
	unlock, ok := w.lockUsers(owner, sharee)
	if !ok {
		return "", nil
	}
	defer unlock()
	o := w.l.user(owner)
	name := w.l.Users[sharee].Name
	var old map[string]string // a stream token minted under the share that is revoked
	if kind == MoveReshare {
		old, _ = tokenURLs(ctx, w.hc, "http://"+w.srv.HTTP(), w.l.user(sharee), c.ID)
		w.l.beginRevoke(name, c.ID)
		err := apiCall(ctx, w.srv, o, http.MethodDelete, "/api/cameras/"+c.ID+"/shares/"+name, "", nil)
		w.l.endRevoke(name, c.ID, err == nil)
		if err != nil {
			return kind, fmt.Errorf("unshare %s from %s: %w", c.ID, name, err)
		}
		shares = slices.DeleteFunc(shares, func(u int) bool { return u == sharee })
		w.l.setOwner(c, owner, shares, "")
		sleep(ctx, time.Duration(rng.IntN(500))*time.Millisecond)
	}
	if err := grant(ctx, w.srv, w.l, o, c, sharee, ""); err != nil {
		return kind, err
	}
	w.l.setOwner(c, owner, append(shares, sharee), "")
	w.look(ctx, rng, sharee, c)
	if old != nil {
		w.oldToken(ctx, rng, sharee, c, old)
	}
	return kind, nil
}

// oldToken plays a stream token minted under a share that was revoked
// since, after the share was granted again: it must stay dead (its mint
// time is before the new share's epoch), refused with no media.
func (w *world) oldToken(ctx context.Context, rng *rand.Rand, u int, c *Camera, urls map[string]string) {
	vr := newRand(rng.Uint64())
	w.looks.Go(func() {
		base, _ := w.sched.cleanPaths(vr)
		v := &Visit{User: w.l.user(u), HTTP: w.hc, Base: base, rng: vr, c: w.vs.c, output: OutOldToken}
		if !v.retarget(c) {
			return
		}
		v.Attack, v.notBefore, v.Addr = true, time.Time{}, householdAddr(u)
		w.vs.c.out(OutOldToken).sessions.Add(1)
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := v.viaToken(ctx, urls, c); err != nil && ctx.Err() == nil {
			w.vs.c.out(OutOldToken).errors.Add(1)
		}
	})
}

// password changes a user's password (POST /api/password); the old one is
// stale from Vigil's answer on, and so is the user's API token: a password
// change deletes every API token (README), and the user makes a new one
// for their players. With no answer, the new password is tried.
func (w *world) password(ctx context.Context, rng *rand.Rand) (string, error) {
	i := rng.IntN(len(w.l.Users))
	unlock, ok := w.lockUsers(i)
	if !ok {
		return "", nil
	}
	defer unlock()
	u := w.l.user(i)
	pw := randomHex(16)
	err := apiCall(ctx, w.srv, u, http.MethodPost, "/api/password", fmt.Sprintf(`{"current":%q,"new":%q}`, u.Password, pw), nil)
	if err != nil && statusOf(err) == 0 {
		probe := u
		probe.Password = pw
		if apiCall(ctx, w.srv, probe, http.MethodGet, "/api/cameras", "", nil) == nil {
			err = nil
		}
	}
	if err != nil {
		return MovePassword, err
	}
	w.l.setPassword(i, pw)
	if u.Token != "" {
		w.l.addStale(i, u.Token)
	}
	id, secret, err := newAPIToken(ctx, "http://"+w.srv.HTTP(), w.l.user(i))
	w.l.setToken(i, id, secret) // none if that failed: no visit uses a deleted token
	return MovePassword, err
}

// rotateToken gives a user a new API token and deletes the old one, which
// is stale from Vigil's answer on.
func (w *world) rotateToken(ctx context.Context, rng *rand.Rand) (string, error) {
	i := rng.IntN(len(w.l.Users))
	unlock, ok := w.lockUsers(i)
	if !ok {
		return "", nil
	}
	defer unlock()
	u := w.l.user(i)
	id, secret, err := newAPIToken(ctx, "http://"+w.srv.HTTP(), u)
	if err != nil {
		return MoveTokenDeleted, err
	}
	w.l.setToken(i, id, secret)
	if u.TokenID == "" { // a password change's new token failed: nothing to delete
		return "", nil
	}
	if err := apiCall(ctx, w.srv, u, http.MethodDelete, "/api/tokens/"+u.TokenID, "", nil); err != nil {
		return MoveTokenDeleted, err
	}
	w.l.addStale(i, u.Token)
	return MoveTokenDeleted, nil
}

// look has user u view camera c at once, on an output drawn among those
// the camera has, as someone who has just been given a camera does.
func (w *world) look(ctx context.Context, rng *rand.Rand, u int, c *Camera) {
	flows := w.vs.flows
	f := flows[rng.IntN(len(flows))]
	for try := 0; (c.StillOnly && f.Video || f.Name == OutThumbs || f.Name == OutStale) && try < 20; try++ {
		f = flows[rng.IntN(len(flows))]
	}
	vr := newRand(rng.Uint64())
	w.looks.Go(func() {
		base, rtspHost := w.sched.cleanPaths(vr)
		v := &Visit{User: w.l.user(u), HTTP: w.hc, Base: base, RTSPHost: rtspHost, rng: vr, c: w.vs.c, output: f.Name}
		v.Secret, v.Addr = v.User.Password, householdAddr(u)
		if !v.retarget(c) || v.Attack {
			return
		}
		w.sched.add(MoveFirstLook, 1)
		w.vs.once(ctx, f, v, vr)
	})
}
