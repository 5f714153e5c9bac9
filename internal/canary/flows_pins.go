package canary

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// allTime is the query of a listing over all time: the server must keep
// what the viewer may not see to itself.
const allTime = "?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z"

// pinJSON is a pin as the API shows it.
type pinJSON struct {
	ID    int64     `json:"id"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	Event int64     `json:"event,omitempty"`
}

// pinsKept is how many pins a viewer keeps on a camera before a visit
// unpins one instead of pinning (MaxPins bounds a camera's pins).
const pinsKept = 3

// pinFlow lists the camera's review items and the viewer's pins of it:
// every item, its events and every pin must lie in the viewer's epoch
// (the server must keep a previous owner's, and those from before a
// share, to itself), and no pin listed may be one another camera's
// viewer made. Then it asks to delete another camera's pin and to pin
// another camera's event under this camera (see probePins), and pins a
// span or a listed event, or unpins one of its pins. An attacker's
// listings of review items, pins and usage, a pin of the camera's span
// and a delete of one of its pins must be refused.
func pinFlow(ctx context.Context, v *Visit) error {
	if v.Attack {
		return attackPins(ctx, v)
	}
	var review struct {
		Items []struct {
			Start  time.Time `json:"start"`
			Events []struct {
				ID    int64     `json:"id"`
				Start time.Time `json:"start"`
			} `json:"events"`
		} `json:"items"`
	}
	if ok, err := v.getJSON(ctx, v.camPath("/review"+allTime), &review); !ok || err != nil {
		return err
	}
	var events []int64
	for _, it := range review.Items {
		if !v.c.inEpoch(v.output, v.User.Name, v.Camera.ID, it.Start, v.notBefore, "a review item listed") {
			v.bad = true
			return nil
		}
		for _, e := range it.Events {
			if !v.c.inEpoch(v.output, v.User.Name, v.Camera.ID, e.Start, v.notBefore, "a review item's event") {
				v.bad = true
				return nil
			}
			events = append(events, e.ID)
		}
	}
	mine, err := v.listPins(ctx)
	if err != nil || v.bad {
		return err
	}
	if err := probePins(ctx, v); err != nil || v.bad {
		return err
	}
	if len(mine) >= pinsKept {
		p := mine[v.rng.IntN(len(mine))]
		res, err := v.call(ctx, http.MethodDelete, v.camPath(fmt.Sprintf("/pins/%d", p.ID)), "", true, http.StatusNoContent)
		if res != nil {
			res.Body.Close()
		}
		return err
	}
	body := fmt.Sprintf(`{"start":%q,"end":%q}`, time.Now().Add(-2*time.Minute).UTC().Format(time.RFC3339Nano), time.Now().UTC().Format(time.RFC3339Nano))
	if len(events) > 0 && v.rng.IntN(2) == 0 {
		body = fmt.Sprintf(`{"event":%d}`, events[v.rng.IntN(len(events))])
	}
	res, err := v.call(ctx, http.MethodPost, v.camPath("/pins"), body, true, http.StatusCreated)
	if res == nil {
		return err
	}
	var p pinJSON
	err = json.NewDecoder(io.LimitReader(res.Body, 4096)).Decode(&p)
	res.Body.Close()
	if err != nil {
		return err
	}
	if !v.c.inEpoch(v.output, v.User.Name, v.Camera.ID, p.Start, v.notBefore, "a pin made") {
		v.bad = true
		return nil
	}
	v.c.recorded.add(recItem{camera: v.Camera.ID, kind: kindPin, id: p.ID, start: p.Start})
	return nil
}

// listPins lists the viewer's pins of the camera and checks each: in the
// viewer's epoch, and not a pin remembered as another camera's.
func (v *Visit) listPins(ctx context.Context) ([]pinJSON, error) {
	var list struct {
		Pins []pinJSON `json:"pins"`
	}
	if ok, err := v.getJSON(ctx, v.camPath("/pins"), &list); !ok || err != nil {
		return nil, err
	}
	for _, p := range list.Pins {
		if !v.c.inEpoch(v.output, v.User.Name, v.Camera.ID, p.Start, v.notBefore, "a pin listed") {
			v.bad = true
			return nil, nil
		}
		if cam := v.c.recorded.camera(kindPin, p.ID); cam != "" && cam != v.Camera.ID {
			v.bad = true
			v.c.violation(Violation{Kind: KindWrongCamera, Output: v.output, User: v.User.Name, Requested: v.Camera.ID, Got: cam,
				Detail: fmt.Sprintf("pin %d listed, made on another camera", p.ID)})
			return nil, nil
		}
	}
	return list.Pins, nil
}

// probePins asks, under the visit's camera's path, to delete a pin
// remembered as another camera's, or to pin an event remembered as
// another camera's: either must be refused (401, 403 or 404); one done
// is a violation.
func probePins(ctx context.Context, v *Visit) error {
	other := func(it recItem) bool { return it.camera != v.Camera.ID }
	method, path, body, what := http.MethodDelete, "", "", ""
	if v.rng.IntN(2) == 0 {
		it, ok := v.c.recorded.pick(kindPin, v.rng.Int(), other)
		if !ok {
			return nil
		}
		path, what = v.camPath(fmt.Sprintf("/pins/%d", it.id)), fmt.Sprintf("delete of pin %d of %s", it.id, it.camera)
	} else {
		it, ok := v.c.recorded.pick(kindEvent, v.rng.Int(), other)
		if !ok {
			return nil
		}
		method, path, body = http.MethodPost, v.camPath("/pins"), fmt.Sprintf(`{"event":%d}`, it.id)
		what = fmt.Sprintf("pin of event %d of %s", it.id, it.camera)
	}
	return v.mustRefuse(ctx, method, path, body, v.Camera.ID, "", what+" under this camera")
}

// attackPins is an attacker's visit to a camera's review items, pins and
// usage: one listing, a pin of a span, or the delete of a pin remembered
// as the camera's, each of which must be refused.
func attackPins(ctx context.Context, v *Visit) error {
	method, path, body := http.MethodGet, "", ""
	switch v.rng.IntN(5) {
	case 0:
		path = v.camPath("/review" + allTime)
	case 1:
		path = v.camPath("/pins")
	case 2:
		path = v.camPath("/usage")
	case 3:
		method, path = http.MethodPost, v.camPath("/pins")
		body = fmt.Sprintf(`{"start":%q,"end":%q}`, time.Now().Add(-time.Minute).UTC().Format(time.RFC3339Nano), time.Now().UTC().Format(time.RFC3339Nano))
	default:
		it, ok := v.c.recorded.pick(kindPin, v.rng.Int(), func(it recItem) bool { return it.camera == v.Camera.ID })
		if !ok {
			path = v.camPath("/pins")
			break
		}
		method, path = http.MethodDelete, it.path(v.Camera.ID)
	}
	_, err := v.call(ctx, method, path, body, true, http.StatusOK)
	return err
}
