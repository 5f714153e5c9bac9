package sim

import "errors"

// Errors returned by the stamp parser and checker.
var (
	// ErrBadMAC means a stamp's HMAC does not verify under the camera's key.
	ErrBadMAC = errors.New("sim: stamp MAC mismatch")
	// ErrUnknownCamera means the key lookup returned no key for the stamp's camera.
	ErrUnknownCamera = errors.New("sim: no key for stamp camera")
	// ErrMalformed means a NAL unit carries our stamp UUID but cannot be parsed.
	ErrMalformed = errors.New("sim: malformed stamp")
	// ErrNoCode means ReadCode found no valid block code in the picture.
	ErrNoCode = errors.New("sim: no block code found")
	// ErrViewerGone means a WebRTCViewer's connection failed or was closed.
	ErrViewerGone = errors.New("sim: WebRTC connection closed")
)
