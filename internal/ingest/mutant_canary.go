//go:build canarymutant

package ingest

import (
	"sync"

	"vigil/internal/mutant"
)

// poolLag is how many units later the planted pool takes a buffer back:
// "surely every reader has sent it by now" — a fraction of a second, less
// than a GOP cache or a slow reader's queue holds.
const poolLag = 64

// payloadPool is the planted bug's pool, shared by every camera session (a
// package variable only in canarymutant builds).
var payloadPool struct {
	sync.Mutex
	free   [][]byte
	inUse  [][]byte // oldest first
	reused uint64
}

// newUnitBuffer returns a buffer from the shared pool when
// mutant.PoolReuse is planted, and returns the buffer lent poolLag units
// ago to the pool: nobody checks whether a reader still holds it.
func newUnitBuffer(n int) []byte {
	if !mutant.On(mutant.PoolReuse) {
		return make([]byte, n)
	}
	p := &payloadPool
	p.Lock()
	defer p.Unlock()
	var buf []byte
	for i, b := range p.free {
		if cap(b) >= n {
			buf = b[:n]
			p.free = append(p.free[:i], p.free[i+1:]...)
			p.reused++
			break
		}
	}
	if buf == nil {
		buf = make([]byte, n)
	}
	p.inUse = append(p.inUse, buf[:0:cap(buf)])
	if len(p.inUse) > poolLag {
		p.free = append(p.free, p.inUse[0])
		p.inUse = p.inUse[1:]
		if len(p.free) > poolLag {
			p.free = p.free[1:]
		}
	}
	return buf
}
