package record

import "errors"

// Errors returned by playback.
var (
	// ErrNotFound means no recording the grant may see has the id: it does
	// not exist, belongs to another camera or an earlier epoch, or started
	// before the grant's epoch. The cases are deliberately not told apart.
	ErrNotFound = errors.New("record: no such recording")
	// ErrIsolation means a recording's object did not open under the
	// grant's device key: its row names another camera's object (or an
	// object of another epoch). It was counted as an isolation violation
	// and nothing of it is served.
	ErrIsolation = errors.New("record: recording's object does not open for this camera; nothing served")
	// ErrDamaged means a recording's object is missing or not the length
	// its row says (cut short): it is not served.
	ErrDamaged = errors.New("record: recording's object is missing or damaged")
	// ErrIndexed means a recording's object already has a row (another
	// process indexed it: a node reconciling at start); the Index's
	// AddRecording wraps it.
	ErrIndexed = errors.New("record: the recording's object already has a row")
)
