package sim

import (
	"slices"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// TestJitterBufferReorders: packets come out in sequence order across the
// 16-bit wrap; a late one is waited for, a lost one given up on after
// reorderPackets later ones or reorderWait (marked by a nil), and
// duplicates dropped.
func TestJitterBufferReorders(t *testing.T) {
	seqs := func(pkts []*rtp.Packet) []int {
		var out []int
		for _, p := range pkts {
			if p == nil {
				out = append(out, -1)
			} else {
				out = append(out, int(p.SequenceNumber))
			}
		}
		return out
	}
	pkt := func(seq uint16) *rtp.Packet { return &rtp.Packet{Header: rtp.Header{SequenceNumber: seq}} }
	clock := time.Unix(0, 0)
	j := &jitterBuffer{pkts: map[uint16]*rtp.Packet{}, now: func() time.Time { return clock }}
	var got []int
	for _, s := range []uint16{65534, 0, 65535, 1, 1, 65535} {
		got = append(got, seqs(j.push(pkt(s)))...)
	}
	if want := []int{65534, 65535, 0, 1}; !slices.Equal(got, want) {
		t.Fatalf("reordered %v, want %v", got, want)
	}
	// 2 is lost: 3... are held until reorderPackets of them wait.
	got = nil
	for s := uint16(3); s < 3+reorderPackets+1; s++ {
		got = append(got, seqs(j.push(pkt(s)))...)
	}
	if len(got) != reorderPackets+2 || got[0] != -1 || got[1] != 3 || got[len(got)-1] != 3+reorderPackets {
		t.Fatalf("after a loss: %d packets, starting %v", len(got), got[:min(3, len(got))])
	}
	if out := j.push(pkt(2)); len(out) != 0 {
		t.Fatalf("the packet given up on came out late: %v", seqs(out))
	}
	// A gap is also given up on after reorderWait without progress.
	next := uint16(3 + reorderPackets + 1)
	if out := j.push(pkt(next + 1)); len(out) != 0 {
		t.Fatalf("out of order: %v", seqs(out))
	}
	clock = clock.Add(reorderWait)
	if got := seqs(j.push(pkt(next + 2))); !slices.Equal(got, []int{-1, int(next + 1), int(next + 2)}) {
		t.Fatalf("after reorderWait: %v", got)
	}
}

// TestWebRTCViewerOnUnit: a caller that judges units itself gets every
// complete unit, after the viewer's own stamp check.
func TestWebRTCViewerOnUnit(t *testing.T) {
	keys := StaticKeys([]byte("secret"))
	var got [][][]byte
	v, err := NewWebRTCViewer(keys, WebRTCOptions{OnUnit: func(au [][]byte) { got = append(got, au) }})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	au := [][]byte{StampNALU(keys("cam-a"), Stamp{Camera: "cam-a", Seq: 1, Time: time.Now()}), {0x65, 0x88}}
	v.unit(au, time.Now())
	if len(got) != 1 || len(got[0]) != 2 || v.Checker().Units() != 1 {
		t.Fatalf("OnUnit got %d units, the checker %d; want 1 and 1", len(got), v.Checker().Units())
	}
}
