//go:build canarymutant

package cluster

import (
	"context"
	"strings"
	"sync"
	"time"

	"vigil/internal/access"
	"vigil/internal/media"
	"vigil/internal/mutant"
)

// listenOn is the subject a subscription to subj listens on: with
// mutant.RemoteKeySubject, every camera's units of the stream.
func listenOn(subj string, stream access.StreamID) string {
	if mutant.On(mutant.RemoteKeySubject) {
		return "vigil.media.*." + string(stream)
	}
	return subj
}

// openFrom opens a message that came on subj: with
// mutant.RemoteKeySubject, with the key of the camera the subject names.
func (s *Subscription) openFrom(subj string, sealed []byte) (message, error) {
	tokens := strings.Split(subj, ".")
	if !mutant.On(mutant.RemoteKeySubject) || len(tokens) != 4 || access.DeviceID(tokens[2]) == s.device {
		return s.open(sealed)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	epoch, err := s.b.epochs.EpochSecret(ctx, access.DeviceID(tokens[2]))
	if err != nil {
		return message{}, err
	}
	o, err := s.b.sealer.NewBusOpener(access.DeviceID(tokens[2]), epoch, s.stream)
	if err != nil {
		return message{}, err
	}
	session, seq, plain, err := o.Open(sealed)
	if err != nil {
		return message{}, err
	}
	return decodeMessage(media.Owner{Device: o.Device(), Stream: s.stream, Session: session}, seq, plain)
}

// anyOwner is true when a feed takes whatever its subscription delivers
// (mutant.RemoteKeySubject): the subject was the key.
func anyOwner() bool { return mutant.On(mutant.RemoteKeySubject) }

// gopServed are the GOP sources this process served, by camera stream (a
// package variable only in canarymutant builds).
var gopServed struct {
	sync.Mutex
	last map[media.Owner]GOPSource
}

// gopAnswer is what a GOP request for desc is answered with: with
// mutant.GOPWrongCache, the cached GOP of another camera stream this node
// served, made over as desc's units (as a responder that seals whatever
// it found as the camera asked for would).
func gopAnswer(desc Description, gop GOPSource) []*media.Unit {
	if !mutant.On(mutant.GOPWrongCache) {
		return gop()
	}
	gopServed.Lock()
	if gopServed.last == nil {
		gopServed.last = map[media.Owner]GOPSource{}
	}
	gopServed.last[desc.Owner] = gop
	var other GOPSource
	for o, g := range gopServed.last {
		if o.Device != desc.Owner.Device {
			other = g
			break
		}
	}
	gopServed.Unlock()
	if other == nil {
		return gop()
	}
	var out []*media.Unit
	for _, u := range other() {
		b, err := encodeUnit(u)
		if err != nil {
			return gop()
		}
		v, err := decodeUnit(desc.Owner, u.Seq, b)
		if err != nil {
			return gop()
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return gop()
	}
	return out
}

// fenceFromElsewhere reports whether a claim taken over by another node
// ends the local claim: not with mutant.ClaimNoFence.
func fenceFromElsewhere() bool { return !mutant.On(mutant.ClaimNoFence) }
