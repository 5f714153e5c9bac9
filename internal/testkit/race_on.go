//go:build race

package testkit

// Race is true in a build with the race detector, whose instrumentation
// makes goroutine stacks and some allocations larger: tests that bound
// memory allow for it.
const Race = true
