package seal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"vigil/internal/access"
)

func TestBusRoundTrip(t *testing.T) {
	s := testSealer(t, 1)
	snd, err := s.NewBusSealer("cam-a", epochA, access.StreamMain)
	if err != nil {
		t.Fatal(err)
	}
	o, err := s.NewBusOpener("cam-a", epochA, access.StreamMain)
	if err != nil {
		t.Fatal(err)
	}
	for i, plain := range [][]byte{{}, []byte("a frame"), bytes.Repeat([]byte{0xff}, 1<<20)} {
		msg, err := snd.Seal(3, uint64(10+i), plain)
		if err != nil {
			t.Fatal(err)
		}
		if len(msg) != len(plain)+BusOverhead {
			t.Errorf("sealed %d bytes, want %d+%d", len(msg), len(plain), BusOverhead)
		}
		if len(plain) > 16 && bytes.Contains(msg, plain[:16]) {
			t.Error("plaintext visible in the sealed message")
		}
		session, seq, got, err := o.Open(msg)
		if err != nil || session != 3 || seq != uint64(10+i) || !bytes.Equal(got, plain) {
			t.Fatalf("Open = session %d seq %d, %d bytes, %v; want 3, %d, the %d bytes sealed", session, seq, len(got), err, 10+i, len(plain))
		}
	}
}

// TestBusCountersDiffer: two messages of one sender never share a nonce,
// and two senders of one stream never share a key (their salts differ).
func TestBusCountersDiffer(t *testing.T) {
	s := testSealer(t, 1)
	a, _ := s.NewBusSealer("cam-a", epochA, access.StreamMain)
	b, _ := s.NewBusSealer("cam-a", epochA, access.StreamMain)
	m1, _ := a.Seal(1, 1, []byte("x"))
	m2, _ := a.Seal(1, 1, []byte("x"))
	m3, _ := b.Seal(1, 1, []byte("x"))
	if bytes.Equal(m1[4:BusHeader], m2[4:BusHeader]) || bytes.Equal(m1[BusHeader:], m2[BusHeader:]) {
		t.Error("one sender sealed two messages under the same salt and counter")
	}
	if bytes.Equal(m1[4:4+busSalt], m3[4:4+busSalt]) {
		t.Error("two senders drew the same salt")
	}
	o, _ := s.NewBusOpener("cam-a", epochA, access.StreamMain)
	for _, m := range [][]byte{m1, m2, m3} {
		if _, _, _, err := o.Open(m); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBusOpensOnlyItsOwn: a message sealed for another device, stream or
// epoch, under another master key, or with any header field changed,
// fails to open.
func TestBusOpensOnlyItsOwn(t *testing.T) {
	s := testSealer(t, 1)
	snd, _ := s.NewBusSealer("cam-a", epochA, access.StreamMain)
	msg, _ := snd.Seal(5, 6, []byte("cam-a's frame"))
	other := testSealer(t, 2)
	openers := map[string]*BusOpener{}
	openers["other device"], _ = s.NewBusOpener("cam-b", epochA, access.StreamMain)
	openers["other stream"], _ = s.NewBusOpener("cam-a", epochA, access.StreamSub)
	openers["other epoch"], _ = s.NewBusOpener("cam-a", epochB, access.StreamMain)
	openers["other master key"], _ = other.NewBusOpener("cam-a", epochA, access.StreamMain)
	for name, o := range openers {
		if _, _, _, err := o.Open(msg); !errors.Is(err, ErrOpen) {
			t.Errorf("%s: Open = %v, want ErrOpen", name, err)
		}
	}
	o, _ := s.NewBusOpener("cam-a", epochA, access.StreamMain)
	for _, off := range []int{4, 4 + busSalt, 4 + busSalt + 8, 4 + busSalt + 16, BusHeader, len(msg) - 1} {
		bad := bytes.Clone(msg)
		bad[off] ^= 1
		if _, _, _, err := o.Open(bad); !errors.Is(err, ErrOpen) {
			t.Errorf("byte %d flipped: Open = %v, want ErrOpen", off, err)
		}
	}
	if _, _, _, err := o.Open(msg[:BusOverhead-1]); !errors.Is(err, ErrBusFormat) {
		t.Errorf("short message: Open = %v, want ErrBusFormat", err)
	}
}

func TestBusExhausted(t *testing.T) {
	s := testSealer(t, 1)
	snd, _ := s.NewBusSealer("cam-a", epochA, access.StreamMain)
	snd.counter = ^uint64(0) - 1
	msg, err := snd.Seal(1, 1, nil)
	if err != nil || binary.BigEndian.Uint64(msg[4+busSalt:]) != ^uint64(0) {
		t.Fatalf("last counter: %v", err)
	}
	if _, err := snd.Seal(1, 2, nil); !errors.Is(err, ErrBusExhausted) {
		t.Fatalf("Seal past the last counter = %v, want ErrBusExhausted", err)
	}
}

func TestBusOpenerKeepsFewKeys(t *testing.T) {
	s := testSealer(t, 1)
	o, _ := s.NewBusOpener("cam-a", epochA, access.StreamMain)
	for range 3 * busOpenerKeys {
		snd, _ := s.NewBusSealer("cam-a", epochA, access.StreamMain)
		msg, _ := snd.Seal(1, 1, []byte("x"))
		if _, _, _, err := o.Open(msg); err != nil {
			t.Fatal(err)
		}
	}
	if len(o.keys) > busOpenerKeys {
		t.Fatalf("opener keeps %d keys, bound is %d", len(o.keys), busOpenerKeys)
	}
}

// FuzzOpenBus: whatever bytes arrive from the bus, opening never panics
// and nothing opens but what was sealed (forging needs the key).
func FuzzOpenBus(f *testing.F) {
	s, err := NewSealer(bytes.Repeat([]byte{1}, MasterKeySize))
	if err != nil {
		f.Fatal(err)
	}
	snd, _ := s.NewBusSealer("cam-a", epochA, access.StreamMain)
	plain := []byte("a sealed frame")
	good, _ := snd.Seal(1, 2, plain)
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add(good[:BusHeader])
	f.Add([]byte{})
	o, _ := s.NewBusOpener("cam-a", epochA, access.StreamMain)
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, got, err := o.Open(b)
		if err == nil && !bytes.Equal(got, plain) {
			t.Fatalf("%d bytes opened as %q, never sealed", len(b), got)
		}
	})
}
