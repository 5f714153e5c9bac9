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

// ownPayload copies payload into a buffer from the shared pool when
// mutant.PoolReuse is planted, and returns the buffer lent poolLag units
// ago to the pool: nobody checks whether a reader still holds it.
func ownPayload(payload [][]byte) [][]byte {
	if !mutant.On(mutant.PoolReuse) {
		return own(payload)
	}
	n := 0
	for _, p := range payload {
		n += len(p)
	}
	p := &payloadPool
	p.Lock()
	var buf []byte
	for i, b := range p.free {
		if cap(b) >= n {
			buf = b[:0]
			p.free = append(p.free[:i], p.free[i+1:]...)
			p.reused++
			break
		}
	}
	if buf == nil {
		buf = make([]byte, 0, n)
	}
	p.inUse = append(p.inUse, buf[:0:cap(buf)])
	if len(p.inUse) > poolLag {
		p.free = append(p.free, p.inUse[0])
		p.inUse = p.inUse[1:]
		if len(p.free) > poolLag {
			p.free = p.free[1:]
		}
	}
	p.Unlock()
	out := make([][]byte, len(payload))
	for i, b := range payload {
		buf = append(buf, b...)
		out[i] = buf[len(buf)-len(b) : len(buf) : len(buf)]
	}
	return out
}
