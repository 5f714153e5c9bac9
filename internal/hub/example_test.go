package hub_test

import (
	"context"
	"fmt"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"vigil/internal/access"
	"vigil/internal/hub"
	"vigil/internal/media"
)

// A camera publishes; a viewer with a grant joins mid-GOP and starts at the
// cached keyframe; every unit passes the egress check before it is written.
func Example() {
	h := hub.New(hub.Config{})
	video := []*media.Track{{Kind: media.Video, Format: &format.H264{PayloadTyp: 96, PacketizationMode: 1}}}
	pub, _ := h.Publish("cam-front", access.StreamMain, video)
	for n := range 5 {
		pub.Write(0, hub.UnitData{PTS: time.Duration(n) * 40 * time.Millisecond, Key: n%3 == 0, Payload: [][]byte{{byte(n)}}})
	}

	// In Vigil only auth mints grants, after checking the store.
	grant := access.NewIssuer().Mint("u-alice", "cam-front", access.AudienceRTSP, time.Minute)
	r, _ := h.Read(grant, access.StreamMain)
	for range 2 {
		u, _ := r.Next(context.Background())
		if err := r.Egress(u); err != nil {
			return // nothing written, session ended
		}
		fmt.Println("frame", u.Payload[0][0], "key", u.Key, "pts", u.PTS)
	}
	// Output:
	// frame 3 key true pts 120ms
	// frame 4 key false pts 160ms
}
