package limit

import (
	"testing"
	"time"
)

// TestLog: one line per key per interval, the held-back count reported
// with the next line let through, keys independent, and past maxLogKeys
// keys a new one still let through.
func TestLog(t *testing.T) {
	l := NewLog[string](50 * time.Millisecond)
	if ok, n := l.Allow("a"); !ok || n != 0 {
		t.Fatalf("first line: %v, %d held back", ok, n)
	}
	for range 3 {
		if ok, _ := l.Allow("a"); ok {
			t.Fatal("a second line within the interval was let through")
		}
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Fatal("another key's first line was held back")
	}
	time.Sleep(60 * time.Millisecond)
	if ok, n := l.Allow("a"); !ok || n != 3 {
		t.Fatalf("after the interval: %v, %d held back, want true and 3", ok, n)
	}
	many := NewLog[int](time.Hour)
	for k := range maxLogKeys + 5 {
		if ok, _ := many.Allow(k); !ok {
			t.Fatalf("key %d's first line was held back", k)
		}
	}
	if len(many.last) > maxLogKeys {
		t.Errorf("remembers %d keys, bound %d", len(many.last), maxLogKeys)
	}
}
