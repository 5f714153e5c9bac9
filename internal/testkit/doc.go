// Package testkit holds what the tests of several packages share:
// simulated cameras that feed a hub with stamped H.264 (and audio), and
// WaitFor, the one way a test waits for something to happen.
//
// It is test-side, like the canary: it may import sim, and only _test.go
// files may import it (internal/app's layers test fails otherwise).
package testkit
