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
	a, err := c.get(first, f)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := c.get(first, f)
	if &a[0] != &b[0] {
		t.Fatal("the same unit was packetized twice")
	}
	for range 300 {
		c.get(next(t, r), f)
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
