package webrtc

import "errors"

// Errors returned by Negotiate and End. ErrBadOffer and ErrNoH264 are the
// peer's fault (an HTTP layer answers 400), ErrCodec the camera's, ErrBusy
// the server's (503).
var (
	// ErrBadOffer means the offer is not an SDP offer this server can parse.
	ErrBadOffer = errors.New("webrtc: offer is not a valid SDP offer")
	// ErrNoH264 means the offer cannot receive H.264 in packetization mode 1
	// with a profile this server answers (Constrained Baseline, Baseline,
	// Main or High).
	ErrNoH264 = errors.New("webrtc: offer cannot receive H.264 (packetization-mode=1)")
	// ErrCodec means the camera's video is not H.264, so it cannot be
	// passed through to a browser without transcoding.
	ErrCodec = errors.New("webrtc: camera codec not supported by WebRTC")
	// ErrBusy means the server or the user has as many sessions as allowed.
	ErrBusy = errors.New("webrtc: too many WebRTC sessions")
	// ErrNoSession means there is no live session of that id for that user
	// and camera.
	ErrNoSession = errors.New("webrtc: no such session")
)

// Reasons a session ended, reported by Session.Err.
var (
	// ErrNegotiationTimeout: the peer did not connect within NegotiationTimeout.
	ErrNegotiationTimeout = errors.New("webrtc: peer did not connect in time")
	// ErrPeerGone: ICE failed (the peer was silent for DisconnectedTimeout)
	// or the peer closed the connection.
	ErrPeerGone = errors.New("webrtc: peer connection failed or closed")
	// ErrEnded: the session was ended by End or Close (a WHEP DELETE).
	ErrEnded = errors.New("webrtc: session ended by request")
	// ErrServerClosed: the server shut down.
	ErrServerClosed = errors.New("webrtc: server closed")
)

// errEgress marks a session ended by the egress check (invariant 3).
var errEgress = errors.New("webrtc: egress check refused a unit; nothing of it was written")
