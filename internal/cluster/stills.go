package cluster

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"

	"vigil/internal/access"
)

// Stills that cameras upload to one node are shared with the others: the
// file as the uploading node stored it — sealed under the device's key in
// its current ownership epoch, with device, stream and sequence number as
// associated data — chunked on vigil.still.<device>.<stream>. A receiving
// node stores it as the stream's upload; it opens only with the key of
// the device a reader's grant names, so a file published on another
// device's subject never reaches a viewer.

// stillPartials bounds the still files a node reassembles at once (each
// upload is a sender of its own).
const stillPartials = 64

func stillSubject(device access.DeviceID, stream access.StreamID) string {
	return "vigil.still." + string(device) + "." + string(stream)
}

// ShareStill publishes a still file uploaded on this node to the others.
func (b *Bus) ShareStill(device access.DeviceID, stream access.StreamID, file []byte) error {
	var id [8]byte
	rand.Read(id[:])
	frames, err := chunks(binary.BigEndian.Uint64(id[:]), 1, file, int(b.nc.MaxPayload()))
	if err != nil {
		return err
	}
	for _, f := range frames {
		b.sent.Add(uint64(len(f)))
		if err := b.nc.Publish(stillSubject(device, stream), f); err != nil {
			return fmt.Errorf("cluster: share still of %s: %w", device, err)
		}
	}
	return nil
}

// SubscribeStills hands every still file other nodes share (and this
// node's own, which the caller finds no newer than its copy) to store, on
// one goroutine, until the subscription is closed.
func (b *Bus) SubscribeStills(store func(device access.DeviceID, stream access.StreamID, file []byte) error) (*nats.Subscription, error) {
	asm := assembler{max: stillPartials}
	sub, err := b.nc.Subscribe("vigil.still.*.*", func(m *nats.Msg) {
		b.got.Add(uint64(len(m.Data)))
		file, err := asm.add(m.Data)
		if err == nil && file == nil {
			return
		}
		if err == nil {
			tokens := strings.Split(m.Subject, ".")
			err = store(access.DeviceID(tokens[2]), access.StreamID(tokens[3]), file)
		}
		if err != nil && b.refused.Add(1)%100 == 1 {
			b.log.Warn("shared still refused", "subject", m.Subject, "refused_total", b.refused.Load(), "error", err)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: subscribe to shared stills: %w", err)
	}
	return sub, nil
}
