package hub

import (
	"errors"
	"fmt"
)

// Errors returned by the hub.
var (
	ErrOffline  = errors.New("camera is offline: no publisher for this stream")
	ErrReplaced = errors.New("publisher session replaced by a newer one from the same camera")
	ErrClosed   = errors.New("stream closed")
	ErrNoTracks = errors.New("publisher offered no usable track")
	// ErrHandover ends the sessions of a camera that changed hands; it
	// wraps ErrReplaced, since the camera reconnects into a new session.
	ErrHandover = fmt.Errorf("camera changed hands, its session ended: %w", ErrReplaced)
	// ErrFenced ends a publisher session whose stream a newer session
	// claimed on another node of the cluster (or lost its claim); it wraps
	// ErrReplaced, since the camera's newer session carries on.
	ErrFenced = fmt.Errorf("camera session fenced: its stream was claimed by a newer session on another node: %w", ErrReplaced)
	// ErrPublishedHere refuses to feed a stream from another node while
	// the camera publishes to this one.
	ErrPublishedHere = errors.New("camera publishes to this node")
)
