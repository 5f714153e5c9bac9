// Package canary is Vigil's leak canary: it proves from the outside that no
// viewer is ever shown a frame or still of a camera they may not see, while
// the incidents behind real leaks are recreated around it — poor networks
// while the GOP and still caches are hot (Xiaomi, 2020), every camera
// dropping and reconnecting at once while viewers ask for thumbnails (Wyze,
// 2024), viewers that cancel mid-response and retry at once (the redis-py
// bug behind ChatGPT's 2023 leak), cameras restarting with new parameters,
// and Vigil itself killed and restarted under load.
//
// Run starts the real vigil binary on loopback with a fresh data
// directory, provisions cameras and users through its CLI and JSON API in
// a layout drawn from a seed (who owns and who shares what), and puts
// toxiproxy in front of its RTSP and HTTP ports. Simulated cameras publish
// stamped video through one proxy (and upload stills whose bytes are unique
// per camera and upload); viewer clients keep opening every output through
// the others — RTSP over TCP and UDP, progressive fMP4, HLS (fMP4 and
// MPEG-TS), LL-HLS, MJPEG, JPEG stills and thumbnails, stream-token URLs,
// WHEP, Google's WebRTC signaling and Alexa's directives (pion "Echo
// Shows", and Alexa's HLS URLs), sub streams, recorded clips, events,
// review items and pins — for cameras they may see and, as attackers, for
// cameras they may not.
//
// Meanwhile the world moves (world.go): owners release cameras and other
// households claim them, shares are revoked and granted again, passwords
// change and API tokens are deleted, and time-limited shares end while
// their sharee plays (flows_share_end.go). The canary keeps each viewer's epoch
// for each camera — when their claim or share request was sent — and a
// frame or still captured before it is a violation: a frame by its stamp's
// capture time, an upload by when Vigil took it, a decoded still by its
// picture generation (a handover draws the camera's picture under a new
// label, and a generation ends before the next owner's claim is sent).
// Credentials a user no longer has, and a Digest answer computed from an
// empty HA1, are attacks that must be refused.
//
// In cluster mode (Config.Nodes > 1, cluster.go) the same load runs over
// Vigil nodes on one Postgres, their embedded NATS servers routed through
// toxiproxy and their recordings in one S3-compatible bucket: cameras and
// uploads reach a random node that is up through loopback balancers,
// viewers and the world's moves pick a random node, and the schedule also
// kills a node with SIGKILL (its cameras reconnect elsewhere) and restarts
// it, cuts the routes, and has cameras connect again while their old
// connections linger (linger.go): a camera still homed on two nodes after
// that is a violation too, seen from the cameras' side.
//
// Every frame a viewer receives is checked on the viewer's side: the SEI
// stamp of each access unit, the block code of each decoded still, the
// bytes of each uploaded still. A violation is a frame or still of a camera
// the viewer may not see or did not ask for, or captured before their
// epoch, a stamp that does not verify, any media served to an attacker,
// audio streaming with no checked video beside it (the cameras' audio
// carries no stamp), or an isolation violation the server itself reports
// (vigil_isolation_violations_total). The canary passes
// with zero violations; run against a binary built with -tags canarymutant
// (see package mutant) it must fail, and reports how long it took.
//
// The canary is the viewer's side, like package sim: no server package may
// import it, and it imports no server package (it talks to Vigil as any
// client does).
package canary
