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
	// ReleaseKeepsStill leaves a camera's stills — its uploaded still file
	// and what the stills service remembers and caches of it — in place
	// when the camera changes hands: the next owner is shown the previous
	// household's picture (the Xiaomi class across a handover).
	ReleaseKeepsStill Name = "release-keeps-still"
	// ReleaseKeepsGOP leaves a camera's hub stream, its publisher session
	// and GOP cache, in place when the camera changes hands.
	ReleaseKeepsGOP Name = "release-keeps-gop"
	// EpochUnchecked drops the capture time from the egress check: an
	// object captured before the grant's epoch passes.
	EpochUnchecked Name = "epoch-unchecked"
)

// Names lists every planted bug.
func Names() []Name {
	return []Name{StillKeyNoDevice, PoolReuse, FlightKeyNoDevice, TokenUnbound, WrongStream, EmptyCredential,
		ReleaseKeepsStill, ReleaseKeepsGOP, EpochUnchecked}
}

// EnvVar is the environment variable Activate reads.
const EnvVar = "VIGIL_MUTANT"
