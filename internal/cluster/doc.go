// Package cluster owns what moves between Vigil nodes over NATS when one
// machine is not enough: the embedded NATS server and its routes to peers
// (Node), the home node of each camera stream with fenced claims and the
// reservations of pulled cameras (Registry), the sealed bus that carries a
// camera's units, track description, GOP bootstrap and end to other nodes
// (Bus), the home side of a publisher session (Home), the viewer side —
// one feed per remote camera stream per node (Feeds) — and the sharing of
// uploaded stills.
//
// Everything that crosses NATS is sealed under a per-device key of the
// current ownership epoch (invariant 4); a receiving node takes a unit's
// device from the key that opened it, never from a subject. The
// single-process default (SQLite, no NATS) uses none of this package.
//
// It must not know HTTP, users or the store: epoch secrets come through
// the EpochSource its caller supplies.
package cluster
