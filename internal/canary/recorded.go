package canary

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// Kinds of remembered recorded objects.
const (
	kindRecording = "recording"
	kindEvent     = "event"
	kindPin       = "pin"
)

// recordedKeep bounds the objects remembered per camera and kind.
const recordedKeep = 16

// probeMargin is how long before a viewer's not-before time an object of
// their camera must have started to be asked for as one they may not see:
// the server's epoch is the claim or share as it arrived, later than the
// canary's (when it was sent), so this only absorbs rounding.
const probeMargin = 2 * time.Second

// recItem is a recording or an event (with a thumbnail) that a viewer was
// shown.
type recItem struct {
	camera string
	kind   string
	id     int64
	start  time.Time
}

// path is the item's URL under camera's path (any camera's: a probe asks
// for one camera's object under another's).
func (it recItem) path(camera string) string {
	switch it.kind {
	case kindEvent:
		return fmt.Sprintf("/api/cameras/%s/events/%d/thumb.jpg", camera, it.id)
	case kindPin:
		return fmt.Sprintf("/api/cameras/%s/pins/%d", camera, it.id)
	}
	return fmt.Sprintf("/api/cameras/%s/recordings/%d/video.mp4?stream=main", camera, it.id)
}

// recorded remembers recordings and events that viewers were shown, so
// that later visits ask for them where they must not get them. Bounded:
// the last recordedKeep of each kind per camera.
type recorded struct {
	mu    sync.Mutex
	items map[[2]string][]recItem // by camera and kind; guarded by mu
}

// add remembers it, once.
func (r *recorded) add(it recItem) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.items == nil {
		r.items = map[[2]string][]recItem{}
	}
	k := [2]string{it.camera, it.kind}
	for _, o := range r.items[k] {
		if o.id == it.id {
			return
		}
	}
	s := append(r.items[k], it)
	if len(s) > recordedKeep {
		s = s[len(s)-recordedKeep:]
	}
	r.items[k] = s
}

// camera returns the camera of the remembered item of kind with id, or
// "" (ids are unique per kind across cameras).
func (r *recorded) camera(kind string, id int64) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, s := range r.items {
		if k[1] != kind {
			continue
		}
		for _, it := range s {
			if it.id == id {
				return it.camera
			}
		}
	}
	return ""
}

// pick returns a remembered item of kind that keep accepts, chosen by n
// (a random number), or false.
func (r *recorded) pick(kind string, n int, keep func(recItem) bool) (recItem, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var all []recItem
	for k, s := range r.items {
		if k[1] != kind {
			continue
		}
		for _, it := range s {
			if keep(it) {
				all = append(all, it)
			}
		}
	}
	if len(all) == 0 {
		return recItem{}, false
	}
	return all[n%len(all)], true
}

// probeRecorded asks, under the visit's camera's path, for a remembered
// object of kind that the viewer must not get: another camera's (the row
// names another device), or one of this camera's that started before the
// viewer's epoch (a previous owner's, or from before a share; of the same
// ownership epoch it opens under the camera's key, so only the server's
// epoch check keeps it back). Either must be refused with no bytes; one
// served is a violation.
func probeRecorded(ctx context.Context, v *Visit, kind string) error {
	nb := v.notBefore.Add(-probeMargin)
	other := v.rng.IntN(2) == 0
	it, ok := v.c.recorded.pick(kind, v.rng.Int(), func(it recItem) bool {
		if other {
			return it.camera != v.Camera.ID
		}
		return it.camera == v.Camera.ID && !v.notBefore.IsZero() && it.start.Before(nb)
	})
	if !ok {
		return nil
	}
	res, err := v.get(ctx, it.path(v.Camera.ID), true)
	if res == nil {
		switch statusOf(err) {
		case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
			v.Refused()
			return nil
		}
		return err
	}
	defer res.Body.Close()
	n, _ := io.Copy(io.Discard, io.LimitReader(res.Body, 1<<20))
	v.bad = true
	what := "another camera's (" + it.camera + ")"
	if it.camera == v.Camera.ID {
		what = fmt.Sprintf("this camera's, started %s before the viewer's epoch", v.notBefore.Sub(it.start).Round(time.Millisecond))
	}
	v.c.violation(Violation{Kind: KindAttackServed, Output: v.output, User: v.User.Name, Requested: v.Camera.ID, Got: it.camera,
		Detail: fmt.Sprintf("%s %d, %s, not refused: status %d, %d body bytes", kind, it.id, what, res.StatusCode, n)})
	return nil
}

// attackRecorded is an attacker's visit to a camera's recordings or
// events: the listing at rest, then a remembered object of the camera
// under its own path, must be refused.
func attackRecorded(ctx context.Context, v *Visit, rest, kind string) error {
	if _, err := v.get(ctx, v.camPath(rest), true); err != nil {
		return err
	}
	it, ok := v.c.recorded.pick(kind, v.rng.Int(), func(it recItem) bool { return it.camera == v.Camera.ID })
	if !ok {
		return nil
	}
	_, err := v.get(ctx, it.path(v.Camera.ID), true)
	return err
}
