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
// the others — RTSP, progressive fMP4, HLS (fMP4 and MPEG-TS), LL-HLS,
// MJPEG, JPEG stills and thumbnails, stream-token URLs — for cameras they
// may see and, as attackers, for cameras they may not.
//
// Every frame a viewer receives is checked on the viewer's side: the SEI
// stamp of each access unit, the block code of each decoded still, the
// bytes of each uploaded still. A violation is a frame or still of a camera
// the viewer may not see or did not ask for, a stamp that does not verify,
// any media served to an attacker, or an isolation violation the server
// itself reports (vigil_isolation_violations_total). The canary passes
// with zero violations; run against a binary built with -tags canarymutant
// (see package mutant) it must fail, and reports how long it took.
//
// The canary is the viewer's side, like package sim: no server package may
// import it, and it imports no server package (it talks to Vigil as any
// client does).
package canary
