// Package testkit holds what the tests of several packages share: WaitFor,
// the one way a test waits for something to happen. Its subpackage simcam
// feeds hubs from simulated cameras. Grants stay with each package's tests:
// only app makes an Issuer outside them (deps_test.go).
//
// Only _test.go files may import it or its subpackages (internal/app's
// layers test fails otherwise). It imports nothing test-side, so sim's
// own tests can use it; simcam, like the canary, imports sim.
package testkit
