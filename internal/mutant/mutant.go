// Package mutant names the isolation bugs that the leak canary plants, one
// at a time, to prove that it catches them (a canary that catches nothing
// proves nothing).
//
// The bugs exist only in binaries built with `-tags canarymutant`: there,
// Activate selects one from VIGIL_MUTANT once, at start, and the packages
// that carry a bug ask On at the bug's site. Without the tag On is the
// constant false and Activate selects nothing, so a normal build compiles
// to exactly the code it would have without this package, and keeps no
// state.
package mutant

// Name names one planted bug.
type Name string

// The planted bugs.
const (
	// StillKeyNoDevice keys the stills service's "previous still" shortcut
	// — served while a slow keyframe decode runs, the path a timeout takes
	// — by stream and width only, without the device (Xiaomi, 2020).
	StillKeyNoDevice Name = "still-key-no-device"
	// PoolReuse takes unit payload buffers from a pool shared by every
	// camera and returns each to it a fixed number of units later, while a
	// slow reader or the GOP cache may still hold it (ChatGPT, 2023).
	PoolReuse Name = "pool-reuse"
	// FlightKeyNoDevice coalesces still decodes on a key without the
	// device and session: two cameras' keyframes with the same sequence
	// number share one decode (Wyze, 2024: IDs mixed up under a reconnect
	// storm).
	FlightKeyNoDevice Name = "flight-key-no-device"
	// TokenUnbound trusts a stream token's own camera instead of checking
	// it against the camera in the URL.
	TokenUnbound Name = "token-unbound"
	// WrongStream attaches a reconnecting camera's session to the hub
	// stream of the camera that disconnected last, when that slot is free.
	WrongStream Name = "wrong-stream"
	// EmptyCredential lets a credential with an empty user or hash match:
	// after a password change, anyone who knows the user name answers
	// RTSP Digest from the empty HA1 and watches the user's cameras.
	EmptyCredential Name = "empty-credential"
	// ReleaseKeepsStill makes the stills service forget nothing of a
	// previous epoch: a handover leaves the camera's uploaded still file,
	// its record and every cached still in place, and the choice of still
	// takes an upload captured before the grant's epoch (the Xiaomi class
	// across a handover). Either alone is invisible from outside — each
	// covers for the other — so both are planted; the egress check is
	// left, and the canary sees it count.
	ReleaseKeepsStill Name = "release-keeps-still"
	// ReleaseKeepsGOP makes the hub forget nothing of a previous epoch: a
	// handover leaves the camera's publisher session, hub stream and GOP
	// cache in place, and a reader joining replays a GOP whose keyframe was
	// captured before its grant's epoch. As for stills, both are planted
	// and the egress check is left.
	ReleaseKeepsGOP Name = "release-keeps-gop"
	// EpochUnchecked makes grants blind to time: Grant.Epoch is zero, so
	// the egress check and every choice made by the epoch (the hub's GOP
	// replay, the stills' upload and keyframe, HLS segments, stream tokens
	// minted before a re-share) let through what was captured before the
	// holder's claim or share.
	EpochUnchecked Name = "epoch-unchecked"
	// RecordIndexNoEpoch makes playback look recordings up by device
	// alone: the timeline lists, and clips open, footage of earlier
	// ownership epochs and from before a sharee's share.
	RecordIndexNoEpoch Name = "record-index-no-epoch"
	// RecordKeyPath keys a recorded segment's object by a path string (its
	// stream and the second it started) instead of its device, epoch and
	// segment: cameras that start segments in the same second overwrite
	// each other's objects, and their rows name another camera's.
	RecordKeyPath Name = "record-key-path"
	// EventListNoEpoch makes the event listing look a camera's events up
	// by device alone: a new owner lists the old owner's events (their
	// kinds and times), and a sharee those from before the share.
	EventListNoEpoch Name = "event-list-no-epoch"
	// JoinEgressFirstClip makes a joined clip (clip.mp4 across segments)
	// check only its first recording at egress, and fetch the recordings
	// after the first as a join that trusted its first lookup would: the
	// device's recordings of its current epoch over the span, the grant's
	// epoch not applied (a sharee gets footage from before the share
	// after the first recording). Either alone is invisible from outside:
	// the lookup alone is caught by the egress check of every recording.
	JoinEgressFirstClip Name = "join-egress-first-clip"
	// EventThumbNoEpoch serves an event's thumbnail to a grant of its
	// device without the epoch checks (the event's epoch against the
	// device's, its start against the grant's): a sharee gets thumbnails
	// from before the share, a new owner asks for the old owner's (whose
	// seal no longer opens: counted at egress).
	EventThumbNoEpoch Name = "event-thumb-no-epoch"
	// PinListNoEpoch makes the pin listing look a camera's pins up by
	// device alone, as if the index had no epoch (nor pinner) column: a
	// new owner lists the old owner's pins (their spans), and a sharee
	// the owner's from before the share.
	PinListNoEpoch Name = "pin-list-no-epoch"
	// PinDeleteIDOnly makes an unpin check only the pin's id, not that
	// it is a pin of the camera in the path made by the caller: a viewer
	// of one camera deletes another camera's pins (whose footage
	// retention then takes).
	PinDeleteIDOnly Name = "pin-delete-id-only"
	// ExportIDOnly makes auth mint an export's grant for whoever names
	// its id, not for its household alone: a camera's next owner, or any
	// other household, reads the footage the last one kept at its release
	// (it opens: the export's own secret is used).
	ExportIDOnly Name = "export-id-only"
	// DeliverUnchecked makes the hub's deliverer (Reader.Deliver: the
	// camera's goroutine writing a caught-up plain-TCP RTSP viewer itself)
	// skip the egress check it runs before handing a unit over: a viewer
	// that keeps up gets what its grant no longer allows — past the end of
	// a time-limited share, after a revocation — while the reader's own
	// goroutine, which would refuse it, sleeps.
	DeliverUnchecked Name = "deliver-unchecked"
	// ExportNoEnd makes an export's timeline list the camera's recordings,
	// and its event list the camera's events, from the export's epoch on,
	// by device alone: past the release, the next owners' too (their
	// times and sizes; their thumbnails and recordings do not open under
	// the export's key, which is counted at the server).
	ExportNoEnd Name = "export-no-end"

	// The cluster's planted bugs, where nodes meet; only a cluster (the
	// canary's -nodes 3) can show them.

	// RemoteKeySubject takes a remote unit's camera from the bus subject
	// it came on instead of from the key that opened its seal: a node
	// subscribed to one camera's stream delivers units of another camera
	// published on that subject as the first camera's.
	RemoteKeySubject Name = "remote-key-subject"
	// GOPWrongCache answers a GOP bootstrap request from the cache of the
	// camera stream the home node claimed before the one asked for,
	// sealed as the one asked for: a viewer on another node joins to
	// another camera's keyframe.
	GOPWrongCache Name = "gop-wrong-cache"
	// ClaimNoFence makes a node deaf to claims taken over by other nodes:
	// neither the watch nor a lost renewal fences the old home's session,
	// so a camera that reconnects elsewhere while its old connection
	// lingers is homed twice.
	ClaimNoFence Name = "claim-no-fence"
)

// Names lists every planted bug.
func Names() []Name {
	return []Name{StillKeyNoDevice, PoolReuse, FlightKeyNoDevice, TokenUnbound, WrongStream, EmptyCredential,
		ReleaseKeepsStill, ReleaseKeepsGOP, EpochUnchecked, RecordIndexNoEpoch, RecordKeyPath, EventListNoEpoch,
		JoinEgressFirstClip, EventThumbNoEpoch, PinListNoEpoch, PinDeleteIDOnly, ExportIDOnly, ExportNoEnd, DeliverUnchecked, RemoteKeySubject, GOPWrongCache, ClaimNoFence}
}

// Cluster reports whether bug n lives where nodes meet, so that only a
// cluster of nodes can show it.
func Cluster(n Name) bool {
	return n == RemoteKeySubject || n == GOPWrongCache || n == ClaimNoFence
}

// EnvVar is the environment variable Activate reads.
const EnvVar = "VIGIL_MUTANT"
