package webrtc

import "errors"

// Errors returned by Negotiate and End. ErrBadOffer and ErrNoH264 are the
// peer's fault (an HTTP layer answers 400), ErrCodec, ErrProfile and
// ErrBFrames the camera's (422: play MP4 or HLS), ErrBusy the server's (503).
var (
	// ErrBadOffer means the offer is not an SDP offer this server can parse.
	ErrBadOffer = errors.New("webrtc: offer is not a valid SDP offer")
	// ErrNoH264 means the offer cannot receive H.264 in packetization mode 1
	// with a profile this server answers (Constrained Baseline, Baseline,
	// Main, High or High 4:4:4 Predictive).
	ErrNoH264 = errors.New("webrtc: offer cannot receive H.264 (packetization-mode=1)")
	// ErrCodec means the camera's video is not H.264, so it cannot be
	// passed through to a browser without transcoding.
	ErrCodec = errors.New("webrtc: camera codec not supported by WebRTC")
	// ErrProfile means none of the H.264 profiles the offer receives
	// decodes the camera's (a High-profile camera, a peer that offers
	// Constrained Baseline only): passed through, it would not play.
	ErrProfile = errors.New("webrtc: the offer receives no H.264 profile that decodes the camera's")
	// ErrBFrames means the camera's H.264 has B-frames (frames out of
	// order). Browsers decode a WebRTC stream in arrival order and show
	// such a stream as a slideshow of its keyframes; MP4 and HLS play it.
	ErrBFrames = errors.New("webrtc: the camera's H.264 has B-frames, which WebRTC players cannot show")
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
