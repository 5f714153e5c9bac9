package app

import (
	"context"
	"time"

	"vigil/internal/access"
	"vigil/internal/seal"
	"vigil/internal/store"
)

// Revocations are polled this often: a change made by another process (the
// vigil admin commands, another node) ends live viewing within about this
// long. A store that wakes its reader on each commit (Postgres) is polled
// only as a safety net, since a wake-up is lost while its connection is.
const (
	revocationPoll      = 200 * time.Millisecond
	revocationSafetyNet = time.Second
	revocationKeep      = time.Hour
	revocationsBatch    = 1000
)

// watchRevocations ends the live grants that the store's revocation log
// names. Every change that ends a right to view writes that log in its own
// transaction, whichever process made it; changes made through this server
// have already revoked in process, and revoking twice is harmless.
func (a *App) watchRevocations(ctx context.Context) error {
	last, err := a.store.LastRevocation(ctx)
	if ctx.Err() != nil {
		return nil // shut down before the first read: nothing to watch
	}
	if err != nil {
		return err
	}
	wake, poll := a.store.Wakeups(), revocationPoll
	if wake != nil {
		poll = revocationSafetyNet
	}
	tick := time.NewTicker(poll)
	defer tick.Stop()
	pruned := time.Now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-wake:
		}
		rs, err := a.store.Revocations(ctx, last, revocationsBatch)
		if err != nil {
			a.log.Warn("reading revocations failed; retrying", "error", err)
			continue
		}
		for _, r := range rs {
			a.revoke(ctx, r)
			last = r.ID
		}
		if time.Since(pruned) > revocationKeep {
			pruned = time.Now()
			if err := a.store.PruneRevocations(ctx, pruned.Add(-revocationKeep)); err != nil {
				a.log.Warn("pruning revocations failed", "error", err)
			}
		}
	}
}

// revoke ends the grants a revocation names whose leases were made before
// it was committed (plus the millisecond the store's clock truncates):
// grants minted since were minted from the changed store.
//
// In a cluster, a camera's revocation for everyone (it changed hands, was
// disabled or got a new password) may have been made through another
// node: this one drops what the camera left here too — its publisher
// sessions and remote feeds that started before the change, their GOP
// caches, muxers and stills (invariant 8) — as the node that made the
// change did at once. Sessions of the camera's current epoch, read from
// the store now, are the new holder's and stay: epochs are compared by
// identity, never by time (the nodes' clocks and the store's differ). A
// camera disabled or deleted, or whose epoch cannot be read, has every
// session end (it reconnects).
func (a *App) revoke(ctx context.Context, r store.Revocation) {
	a.auth.RevokeMadeBefore(r.User, r.Device, r.At.Add(time.Millisecond))
	if a.cluster != nil && r.User == "" && r.Device != "" {
		a.handover(r.Device, a.currentEpoch(ctx, r.Device))
	}
}

// currentEpoch identifies the camera's current ownership epoch
// (seal.EpochID), or is nil when the camera is disabled or gone, or the
// store cannot say.
func (a *App) currentEpoch(ctx context.Context, device access.DeviceID) []byte {
	d, err := a.store.Device(ctx, device)
	if err != nil || d.Disabled {
		return nil
	}
	secret, err := a.store.EpochSecret(ctx, device)
	if err != nil {
		a.log.Warn("camera changed hands but its epoch could not be read: all its sessions end", "camera", device, "error", err)
		return nil
	}
	defer clear(secret)
	return seal.EpochID(secret)
}
