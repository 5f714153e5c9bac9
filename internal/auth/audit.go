package auth

import (
	"context"
	"log/slog"
)

// Audit lines: one Info line "audit" per change of who may do what — sign
// in and out, claim, release, share and unshare — with an event key and
// the ids involved, never a secret. A nil logger writes none.
const (
	EventSignIn  = "sign_in"
	EventSignOut = "sign_out"
	EventClaim   = "claim"
	EventRelease = "release"
	EventShare   = "share"
	EventUnshare = "unshare"
	// EventExportDelete: a household deleted the footage it kept at a
	// release before its deadline.
	EventExportDelete = "export_delete"
)

// auditLine writes one audit line of event with attrs.
func auditLine(ctx context.Context, log *slog.Logger, event string, attrs ...any) {
	if log != nil {
		log.InfoContext(ctx, "audit", append([]any{"event", event}, attrs...)...)
	}
}
