package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"vigil/internal/access"
	"vigil/internal/limit"
	"vigil/internal/seal"
)

// Hello: every node says hello on the bus when it joins and every
// helloEvery after, sealed under a key derived from its master key alone.
// A node whose master key differs cannot open anything the others seal
// (units, GOPs, stills, wants): rather than only counting refused
// messages, each side logs an ERROR naming the other node and the fix, and
// counts the nodes it cannot understand (vigil_cluster_key_mismatch_nodes).
//
//	hello: name length (1) | node name | sealed("vigil hello v1" | node name)
const (
	helloSubject = "vigil.hello"
	helloEvery   = 10 * time.Second
	helloText    = "vigil hello v1"
	// helloDevice and helloEpoch bind the hello key to no camera: it
	// depends on the master key only.
	helloDevice access.DeviceID = "vigil-cluster-hello"
	helloStream access.StreamID = "hello"
)

var helloEpoch = []byte("vigil cluster hello key, master key only")

// Hellos is a node's hello on the bus and what it heard from the others.
type Hellos struct {
	b      *Bus
	name   string
	every  time.Duration
	sealer *seal.BusSealer
	opener *seal.BusOpener
	sub    *nats.Subscription
	errs   *limit.Log[string]

	mu  sync.Mutex           // guards odd
	odd map[string]time.Time // node name → when its last hello failed to open
}

// Hello starts this node's hellos as name, every every (helloEvery if 0),
// until ctx ends.
func (b *Bus) Hello(ctx context.Context, name string, every time.Duration) (*Hellos, error) {
	if every <= 0 {
		every = helloEvery
	}
	if len(name) == 0 || len(name) > 255 {
		return nil, fmt.Errorf("%w: node name of %d bytes", ErrConfig, len(name))
	}
	s, err := b.sealer.NewBusSealer(helloDevice, helloEpoch, helloStream)
	if err != nil {
		return nil, err
	}
	o, err := b.sealer.NewBusOpener(helloDevice, helloEpoch, helloStream)
	if err != nil {
		return nil, err
	}
	h := &Hellos{b: b, name: name, every: every, sealer: s, opener: o, odd: map[string]time.Time{},
		errs: limit.NewLog[string](time.Minute)}
	if h.sub, err = b.nc.Subscribe(helloSubject, h.heard); err != nil {
		return nil, fmt.Errorf("cluster: hello: %w", err)
	}
	go h.run(ctx)
	return h, nil
}

func (h *Hellos) run(ctx context.Context) {
	defer h.sub.Unsubscribe()
	tick := time.NewTicker(h.every)
	defer tick.Stop()
	for {
		if err := h.say(); err != nil {
			h.b.log.Debug("hello not sent", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// say publishes this node's hello.
func (h *Hellos) say() error {
	sealed, err := h.sealer.Seal(0, 0, []byte(helloText+h.name))
	if err != nil {
		return err
	}
	msg := append([]byte{byte(len(h.name))}, h.name...)
	return h.b.nc.Publish(helloSubject, append(msg, sealed...))
}

// heard checks another node's hello.
func (h *Hellos) heard(m *nats.Msg) {
	if len(m.Data) < 1 || len(m.Data) < 1+int(m.Data[0]) {
		h.b.refused.Add(1)
		return
	}
	name := string(m.Data[1 : 1+m.Data[0]])
	if name == h.name {
		return
	}
	_, _, plain, err := h.opener.Open(m.Data[1+m.Data[0]:])
	if err == nil && !bytes.Equal(plain, []byte(helloText+name)) {
		err = errors.New("hello of another node's name")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil {
		delete(h.odd, name)
		return
	}
	h.odd[name] = time.Now()
	if ok, _ := h.errs.Allow(name); ok {
		h.b.log.Error("cluster node's master.key differs from this node's: nothing either seals opens on the other, "+
			"so cameras homed on one are offline on the other; copy one master.key into every node's data_dir and restart the odd node",
			"peer", name, "error", err)
	}
}

// Mismatched is the number of nodes whose hello did not open here lately:
// their master key differs from this node's.
func (h *Hellos) Mismatched() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for name, at := range h.odd {
		if time.Since(at) > 3*h.every {
			delete(h.odd, name)
			continue
		}
		n++
	}
	return n
}
