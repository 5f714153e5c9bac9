package rtsp

import (
	"context"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"vigil/internal/access"
	"vigil/internal/hub"
	"vigil/internal/media"
)

func TestPacketCacheSharesAndStaysBounded(t *testing.T) {
	h := hub.New(hub.Config{})
	f := &format.H264{PayloadTyp: 96, PacketizationMode: 1}
	pub, _ := h.Publish("cam-a", access.StreamMain, []*media.Track{{Kind: media.Video, Format: f}})
	r, _ := h.Read(issuer.Mint("u", "cam-a", access.AudienceRTSP, time.Hour), access.StreamMain)
	c := newPacketCache()
	big := make([]byte, 32<<10)
	big[0] = 0x65
	for n := range 400 {
		pub.Write(0, hub.UnitData{PTS: time.Duration(n), Key: n == 0, Payload: [][]byte{append([]byte(nil), big...)}})
	}
	first := next(t, r)
	a, err := c.get(first, f, true)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := c.get(first, f, true)
	if &a[0] != &b[0] {
		t.Fatal("the same unit was packetized twice")
	}
	for range 300 {
		c.get(next(t, r), f, true)
	}
	if units, bytes := c.cache.Len(); bytes > packetCacheBytes || units > packetCacheUnits {
		t.Fatalf("cache holds %d units, %d bytes: over its bounds", units, bytes)
	}
	if c.cache.Has(first) {
		t.Fatal("the oldest unit was not evicted")
	}
}

func next(t *testing.T, r *hub.Reader) *media.Unit {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	u, err := r.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestPacketCacheKeepsNothingForALoneViewer: the packets of a unit only
// one viewer asks for are made and handed over but not kept; a unit
// already cached is not made again.
func TestPacketCacheKeepsNothingForALoneViewer(t *testing.T) {
	h := hub.New(hub.Config{})
	f := &format.H264{PayloadTyp: 96, PacketizationMode: 1}
	pub, _ := h.Publish("cam-a", access.StreamMain, []*media.Track{{Kind: media.Video, Format: f}})
	r, _ := h.Read(issuer.Mint("u", "cam-a", access.AudienceRTSP, time.Hour), access.StreamMain)
	defer r.Close()
	for n := range 3 {
		pub.Write(0, hub.UnitData{PTS: time.Duration(n), Key: n == 0, Payload: [][]byte{{0x65, byte(n)}}})
	}
	c := newPacketCache()
	alone := next(t, r)
	if pkts, err := c.get(alone, f, false); err != nil || len(pkts) != 1 {
		t.Fatalf("%d packets, %v; want 1", len(pkts), err)
	}
	if units, bytes := c.cache.Len(); units != 0 || bytes != 0 {
		t.Fatalf("cache holds %d units, %d bytes for a lone viewer; want none", units, bytes)
	}
	shared := next(t, r)
	a, _ := c.get(shared, f, true)
	b, _ := c.get(shared, f, false)
	if &a[0] != &b[0] {
		t.Fatal("a cached unit was packetized again")
	}
}
