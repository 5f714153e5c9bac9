package webrtc

import (
	"bytes"
	"testing"
	"time"

	"vigil/internal/media"
)

// TestPacketizerSharesPackets: a unit is packetized once for every
// session; small NAL units travel as the unit's own bytes, large ones as
// FU-A fragments within payloadMax; the cache stays bounded; empty units
// give no packets.
func TestPacketizerSharesPackets(t *testing.T) {
	p, err := newPacketizer()
	if err != nil {
		t.Fatal(err)
	}
	owner := media.Owner{Device: "cam-a", Stream: "main", Session: 1}
	small, large := []byte{0x06, 1, 2, 3}, append([]byte{0x65}, bytes.Repeat([]byte{7}, 5000)...)
	u := media.NewUnit(owner, 1, 0, time.Second, true, time.Time{}, [][]byte{small, large})
	a, err := p.get(u, codecH264)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := p.get(u, codecH264)
	if len(a) < 6 || &a[0] != &b[0] {
		t.Fatalf("%d packets; shared: %v", len(a), &a[0] == &b[0])
	}
	if &a[0].Payload[0] != &small[0] {
		t.Fatal("a NAL unit that fits one packet was copied")
	}
	for i, pkt := range a {
		if len(pkt.Payload) > payloadMax || pkt.Marker != (i == len(a)-1) {
			t.Fatalf("packet %d: %d bytes, marker %v", i, len(pkt.Payload), pkt.Marker)
		}
	}
	for i := range packetCacheUnits + 10 {
		p.get(media.NewUnit(owner, uint64(i+2), 0, 0, false, time.Time{}, [][]byte{small}), codecH264)
	}
	if n, _ := p.cache.Len(); n != packetCacheUnits || p.cache.Has(u) {
		t.Fatalf("cache holds %d units, the oldest kept %v; want %d", n, p.cache.Has(u), packetCacheUnits)
	}
	if pkts, err := p.get(media.NewUnit(owner, 9999, 0, 0, false, time.Time{}, [][]byte{{}}), codecH264); pkts != nil || err != nil {
		t.Fatalf("empty NAL unit: %v, %v", pkts, err)
	}
}
