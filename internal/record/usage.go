package record

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"vigil/internal/access"
)

// Usage is the footage a camera or a household keeps: Bytes of recordings
// (plaintext), Pinned of them kept by pins.
type Usage struct {
	Bytes  int64
	Pinned int64
}

// Usage is the device's usage now. Pins that no longer hold are left out
// (the next sweep drops them).
func (r *Retention) Usage(ctx context.Context, device access.DeviceID) (Usage, error) {
	n, err := r.bytes(ctx, device)
	if err != nil {
		return Usage{}, err
	}
	pins, _, err := r.pins(ctx, device)
	if err != nil {
		return Usage{}, err
	}
	pinned, err := r.pinnedBytes(ctx, device, pins)
	return Usage{Bytes: n, Pinned: pinned}, err
}

// pinnedBytes is the size of the device's recordings of epoch that pins
// keep, each counted once.
func (r *Retention) pinnedBytes(ctx context.Context, device access.DeviceID, pins []Pin) (int64, error) {
	seen := map[int64]bool{}
	var n int64
	for _, p := range pins {
		for _, s := range []access.StreamID{access.StreamMain, access.StreamSub} {
			rows, err := r.Index.Recordings(ctx, device, s, p.Epoch, p.Start, p.End)
			if err != nil {
				return n, err
			}
			for _, row := range rows {
				if !seen[row.ID] && p.covers(row) {
					seen[row.ID] = true
					n += row.Size
				}
			}
		}
	}
	return n, nil
}

// gauge sets the stored and pinned bytes of every camera, and the stored
// bytes of every household. Cameras and households gone since the last
// sweep leave the gauges.
func (r *Retention) gauge(ctx context.Context, devs []access.DeviceID, pins map[access.DeviceID][]Pin) error {
	stored := make(map[access.DeviceID]int64, len(devs))
	held := make(map[access.DeviceID]int64, len(devs))
	for _, d := range devs {
		n, err := r.bytes(ctx, d)
		if err != nil {
			return err
		}
		stored[d] = n
		mine := slices.DeleteFunc(slices.Clone(pins[d]), exported)
		if len(mine) > 0 {
			if held[d], err = r.pinnedBytes(ctx, d, mine); err != nil {
				return err
			}
		}
	}
	var households map[access.UserID][]access.DeviceID
	if r.Households != nil {
		var err error
		if households, err = r.Households(ctx); err != nil {
			return err
		}
	}
	m := r.metrics
	m.stored.Reset()
	m.pinned.Reset()
	m.household.Reset()
	for _, d := range devs {
		m.stored.WithLabelValues(string(d)).Set(float64(stored[d]))
		m.pinned.WithLabelValues(string(d)).Set(float64(held[d]))
	}
	for h, cams := range households {
		var n int64
		for _, d := range cams {
			n += stored[d]
		}
		m.household.WithLabelValues(string(h)).Set(float64(n))
	}
	return nil
}

// quotas deletes the oldest unpinned recordings of each household over
// its quota, across its cameras, until it is under.
func (r *Retention) quotas(ctx context.Context, pins map[access.DeviceID][]Pin) (int, error) {
	if r.Households == nil || r.Quota == nil {
		return 0, nil
	}
	hs, err := r.Households(ctx)
	if err != nil {
		return 0, err
	}
	var total int
	var errs []error
	for h, devs := range hs {
		quota, err := r.Quota(ctx, h)
		if err != nil || quota <= 0 {
			errs = append(errs, err)
			continue
		}
		var size int64
		for _, d := range devs {
			n, err := r.bytes(ctx, d)
			if err != nil {
				return total, err
			}
			size += n
		}
		n, err := r.deleteOldest(ctx, devs, pins, reasonQuota, func() (bool, error) { return size > quota, nil },
			func(row Recording) { size -= row.Size })
		total += n
		if err != nil {
			errs = append(errs, fmt.Errorf("household %s: %w", h, err))
		}
	}
	return total, errors.Join(errs...)
}

// lowDisk is the guard: while the free space is below MinFree, it deletes
// the oldest unpinned recording of any camera. It warns, at most once per
// lowDiskEvery, with what it deleted.
func (r *Retention) lowDisk(ctx context.Context, devs []access.DeviceID, pins map[access.DeviceID][]Pin) (int, error) {
	if r.Free == nil || r.MinFree <= 0 {
		return 0, nil
	}
	var free int64
	low := func() (bool, error) {
		var err error
		free, err = r.Free(ctx)
		return err == nil && free < r.MinFree, err
	}
	n, err := r.deleteOldest(ctx, devs, pins, reasonLowDisk, low, func(Recording) {})
	if n == 0 && err == nil && free >= r.MinFree {
		return 0, nil
	}
	if now := r.now(); now.Sub(r.warned) >= lowDiskEvery || err != nil {
		r.warned = now
		r.logger().Warn("retention: free space was low; deleted the oldest unpinned recordings of every household",
			"deleted", n, "free_bytes", free, "min_free_bytes", r.MinFree, "error", err)
	}
	if err == nil && free < r.MinFree {
		err = fmt.Errorf("free space %d is still below %d: nothing unpinned is left to delete", free, r.MinFree)
	}
	return n, err
}

// deleteOldest deletes the oldest unpinned recordings of devs, across
// them, while more says so; deleted hears of each.
func (r *Retention) deleteOldest(ctx context.Context, devs []access.DeviceID, pins map[access.DeviceID][]Pin, why string,
	more func() (bool, error), deleted func(Recording)) (int, error) {
	its := make([]*oldest, 0, len(devs))
	for _, d := range devs {
		its = append(its, &oldest{r: r, device: d, pins: pins[d]})
	}
	n := 0
	for {
		if ok, err := more(); !ok || err != nil {
			return n, err
		}
		var first *oldest
		for _, it := range its {
			if err := it.fill(ctx); err != nil {
				return n, err
			}
			if len(it.buf) > 0 && (first == nil || before(it.buf[0], first.buf[0])) {
				first = it
			}
		}
		if first == nil {
			return n, nil
		}
		row := first.buf[0]
		first.buf = first.buf[1:]
		if err := r.delete(ctx, row, why); err != nil {
			return n, err
		}
		n++
		deleted(row)
	}
}

// before orders recordings oldest first, as the index does.
func before(a, b Recording) bool {
	return a.Start.Before(b.Start) || a.Start.Equal(b.Start) && a.ID < b.ID
}

// oldest walks one device's unpinned recordings, oldest first.
type oldest struct {
	r      *Retention
	device access.DeviceID
	pins   []Pin
	after  Recording
	buf    []Recording
	done   bool
}

// fill reads the next page when buf is empty.
func (o *oldest) fill(ctx context.Context) error {
	for len(o.buf) == 0 && !o.done {
		rows, err := o.r.Index.OldestRecordingsAfter(ctx, o.device, o.after.Start, o.after.ID, guardPage)
		if err != nil {
			return err
		}
		o.done = len(rows) < guardPage
		for _, row := range rows {
			o.after = row
			if !pinned(o.pins, row) {
				o.buf = append(o.buf, row)
			}
		}
	}
	return nil
}
