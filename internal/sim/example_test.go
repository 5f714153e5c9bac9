package sim_test

import (
	"fmt"
	"time"

	"vigil/internal/sim"
)

// A viewer-side test checks that what it received came from one camera.
func ExampleChecker() {
	secret := []byte("test secret")
	keys := sim.StaticKeys(secret)

	// What the camera sends: every access unit starts with its stamp.
	g, _ := sim.NewGenerator(64, 48, 10, 10, sim.DrawPicture("front-door", 64, 48))
	var stream []byte
	for seq := uint64(1); seq <= 3; seq++ {
		au, _ := g.Next()
		stamp := sim.StampNALU(sim.CameraKey(secret, "front-door"), sim.Stamp{Camera: "front-door", Seq: seq, Time: time.Now()})
		stream = append(stream, sim.AnnexB(append([][]byte{stamp}, au...))...)
	}

	// What the viewer checks.
	c := sim.NewChecker(keys)
	if err := c.AnnexB(stream); err != nil {
		fmt.Println(err)
	}
	fmt.Println(c.Counts(), c.Only("front-door") == nil, c.Only("back-yard") == nil)
	// Output: map[front-door:3] true false
}
