// Package testkit holds what the tests of several packages share: WaitFor,
// the one way a test waits for something to happen, and grants for tests
// that skip auth. Its subpackage simcam feeds hubs from simulated cameras.
//
// Only _test.go files may import it or its subpackages (internal/app's
// layers test fails otherwise). It imports nothing test-side, so sim's
// own tests can use it; simcam, like the canary, imports sim.
package testkit
