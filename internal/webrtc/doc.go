// Package webrtc sends live camera streams to browsers and smart displays
// over WebRTC, on pion: the signaling every WebRTC flow shares (an SDP
// offer in, an answer out: WHEP, and the assistants' camera streams) and
// the media sessions it starts.
//
// H.264 is passed through as the camera sent it (no transcoding), with
// Opus or G.711 audio when the camera has it; every session starts from the
// hub's cached GOP, so the first picture goes out as soon as the peer has
// connected. Every unit passes the source's egress check (invariant 3)
// right before its packets are written; a refusal writes nothing of it and
// ends the session. Stamps and parameter sets pass through untouched
// (invariant 7).
//
// The package knows the hub, media and access, but not HTTP, users beyond
// a grant's user id, or storage: an HTTP layer opens the Source with the
// viewer's grant, hands over the offer and maps the errors.
package webrtc
