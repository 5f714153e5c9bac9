// Package cluster owns what moves between Vigil nodes over NATS when one
// machine is not enough: the embedded NATS server and its routes to peers
// (Node), the home node of each camera stream with fenced claims
// (Registry), and the sealed bus that carries a camera's units to other
// nodes (Bus).
//
// Everything that crosses NATS is sealed under a per-device key of the
// current ownership epoch (invariant 4); a receiving node takes a unit's
// device from the key that opened it, never from a subject. The
// single-process default (SQLite, no NATS) uses none of this package.
//
// It must not know HTTP, users or the store: epoch secrets come through
// the EpochSource its caller supplies.
package cluster
