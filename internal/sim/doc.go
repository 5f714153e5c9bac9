// Package sim is Vigil's camera simulator and the stamp writer and checker
// used by tests.
//
// A simulated Camera publishes H.264 (and optionally G.711) over RTSP push.
// Every access unit it sends starts with a stamp: an SEI NAL unit carrying
// the camera id, a sequence number and a capture time, authenticated with an
// HMAC under the camera's key. A Checker, fed with what a viewer received,
// tallies the stamps per camera and so proves whose frames the viewer got.
// The picture itself carries the camera's identity too (a block code, see
// DrawPicture and ReadCode), for outputs that re-encode video as JPEG.
//
// Server code must never import this package: invariant 7 says the code under
// test may neither write nor strip a stamp, or the check could be fooled by
// the code it checks.
package sim
