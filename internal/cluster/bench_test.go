package cluster

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/media"
	"vigil/internal/seal"
)

// BenchmarkBusUnitPath is one unit's way over the bus without the network:
// encode, seal, chunk on the home node; reassemble, open, decode on the
// viewer's node. Bytes/s is the sealed path's throughput on one core.
func BenchmarkBusUnitPath(b *testing.B) {
	sealer, _ := seal.NewSealer(bytes.Repeat([]byte{7}, seal.MasterKeySize))
	epoch := bytes.Repeat([]byte{0xa}, 32)
	owner := media.Owner{Device: "cam-a", Stream: access.StreamMain, Session: 1}
	bs, _ := sealer.NewBusSealer(owner.Device, epoch, owner.Stream)
	o, _ := sealer.NewBusOpener(owner.Device, epoch, owner.Stream)
	for _, size := range []int{20 << 10, 300 << 10} {
		u := media.NewUnit(owner, 1, 0, 0, true, time.Now(), [][]byte{bytes.Repeat([]byte{1}, size)})
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(size))
			var asm assembler
			for i := range b.N {
				plain, _ := encodeUnit(u)
				sealed, _ := bs.Seal(1, 1, plain)
				frames, _ := chunks(1, uint64(i), sealed, 1<<20)
				for _, f := range frames {
					whole, err := asm.add(f)
					if err != nil {
						b.Fatal(err)
					}
					if whole != nil {
						session, seq, p, err := o.Open(whole)
						if err != nil {
							b.Fatal(err)
						}
						if _, err := decodeUnit(media.Owner{Device: o.Device(), Stream: owner.Stream, Session: session}, seq, p); err != nil {
							b.Fatal(err)
						}
					}
				}
			}
		})
	}
}
