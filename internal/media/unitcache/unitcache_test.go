package unitcache

import (
	"errors"
	"testing"
	"time"

	"vigil/internal/media"
)

// TestCacheMakesOnceAndStaysBounded: a unit's value is made once; the
// cache drops the oldest units past either bound, keeps its map and its
// order in step, and caches no failure.
func TestCacheMakesOnceAndStaysBounded(t *testing.T) {
	owner := media.Owner{Device: "cam-a", Stream: "main", Session: 1}
	unit := func(seq uint64, size int) *media.Unit {
		return media.NewUnit(owner, seq, 0, 0, false, time.Time{}, [][]byte{make([]byte, size)})
	}
	c := New[int](3, 100)
	made := 0
	mk := func() (int, error) { made++; return made, nil }
	first := unit(1, 10)
	a, _ := c.Get(first, mk)
	b, _ := c.Get(first, mk)
	if a != 1 || b != 1 || made != 1 {
		t.Fatalf("values %d, %d after %d makings; want one making", a, b, made)
	}
	for i := range 3 {
		c.Get(unit(uint64(i+2), 10), mk)
	}
	if n, bytes := c.Len(); n != 3 || bytes != 30 || c.Has(first) || len(c.values) != len(c.recent) {
		t.Fatalf("%d units, %d bytes, first kept %v: want the 3 newest", n, bytes, c.Has(first))
	}
	c.Get(unit(9, 95), mk) // too many bytes with any other: only it stays
	if n, bytes := c.Len(); n != 1 || bytes != 95 {
		t.Fatalf("%d units, %d bytes after a large one", n, bytes)
	}
	fail := unit(10, 1)
	if _, err := c.Get(fail, func() (int, error) { return 0, errors.New("no") }); err == nil || c.Has(fail) {
		t.Fatal("a failure was cached")
	}
}
