package app

import (
	"context"

	"vigil/internal/access"
	"vigil/internal/auth"
	"vigil/internal/household"
	"vigil/internal/httpapi"
)

// households is the store's side of claiming, sharing and releasing, plus
// the handover that drops what a camera leaves behind when it changes hands.
type households struct {
	household.Directory
	a *App
}

var (
	_ auth.Households    = households{}
	_ httpapi.Households = households{}
)

// Handover ends the camera's publisher sessions (the camera reconnects into
// a new one) and drops its GOP caches, HLS muxers, decoded stills and
// uploaded still files, before the claim or release returns (invariant 8).
// An upload file that cannot be deleted is logged: it was sealed under the
// old epoch's secret, which the store has already replaced, so it no
// longer opens.
func (h households) Handover(_ context.Context, device access.DeviceID) {
	h.a.handover(device, nil)
}

// handover is Handover for the camera's publisher sessions (and remote
// feeds) of any ownership epoch but current (seal.EpochID), or all of
// them when current is nil.
func (a *App) handover(device access.DeviceID, current []byte) {
	a.hub.HandoverStale(device, current)
	a.hls.Handover(device)
	if err := a.stills.Handover(device); err != nil {
		a.log.Warn("camera changed hands but its old still could not be deleted (it no longer opens)",
			"camera", device, "error", err)
	}
}

// households returns the app's Households.
func (a *App) households() households {
	return households{household.NewDirectory(a.store), a}
}
