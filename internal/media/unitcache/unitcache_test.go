package unitcache

import (
	"errors"
	"testing"
	"testing/synctest"
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
	c := New[int](3, 100, time.Hour)
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

// TestCacheForgetsOldAndIdle: a unit cached more than maxAge ago goes at
// the next Get, and a cache nobody asks for maxAge empties itself, so no
// unit outlives its viewers in it.
func TestCacheForgetsOldAndIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		owner := media.Owner{Device: "cam-a", Stream: "main", Session: 1}
		unit := func(seq uint64) *media.Unit {
			return media.NewUnit(owner, seq, 0, 0, false, time.Now(), [][]byte{make([]byte, 10)})
		}
		c := New[int](100, 1000, time.Second)
		mk := func() (int, error) { return 1, nil }
		old := unit(1)
		c.Get(old, mk)
		time.Sleep(600 * time.Millisecond)
		c.Get(unit(2), mk)
		time.Sleep(600 * time.Millisecond) // old is 1.2 s in the cache, unit 2 0.6 s
		c.Get(unit(3), mk)
		if n, _ := c.Len(); n != 2 || c.Has(old) {
			t.Fatalf("%d units, the one cached 1.2 s ago kept %v; want 2 without it", n, c.Has(old))
		}
		time.Sleep(2500 * time.Millisecond) // nobody asks
		synctest.Wait()
		if n, bytes := c.Len(); n != 0 || bytes != 0 || len(c.values) != 0 {
			t.Fatalf("idle cache holds %d units, %d bytes; want none", n, bytes)
		}
		c.Get(unit(4), mk) // and it caches again
		if n, _ := c.Len(); n != 1 {
			t.Fatalf("%d units after emptying; want 1", n)
		}
	})
}
