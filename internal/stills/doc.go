// Package stills owns JPEG stills: uploads from cameras, decodes of a live
// stream's latest keyframe, a bounded cache of both, and MJPEG built from them.
//
// Every still is bound to the device of the camera that produced it: an
// upload to the camera authenticated by its caller, a keyframe still to the
// owner of the hub unit it was decoded from, and carries when it was
// captured. Lookups are keyed by typed IDs (invariant 5), uploads rest on
// disk sealed under the device's key for its current ownership epoch
// (invariant 4) and open only with that device's grant, and each still's
// device and capture time are checked against the reader's grant (its
// device and epoch) right before it is returned (invariant 3): a still from
// before the holder's claim or share is never theirs. When a camera changes
// hands, Handover deletes and forgets all of its stills (invariant 8). A
// decode that timed out or was cancelled is discarded, never cached
// (invariant 6).
//
// This package knows no HTTP: callers set headers and status codes. It must
// not hand out a still for a bare device id: every read takes a Grant.
package stills
