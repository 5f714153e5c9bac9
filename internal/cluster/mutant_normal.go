//go:build !canarymutant

package cluster

import (
	"vigil/internal/access"
	"vigil/internal/media"
)

// These are where the canary plants the cluster's bugs (see package
// mutant); in normal builds each is the plain behaviour.

// listenOn is the subject a subscription to subj listens on: subj.
func listenOn(subj string, _ access.StreamID) string { return subj }

// openFrom opens a message that came on a subject with the
// subscription's own key.
func (s *Subscription) openFrom(_ string, sealed []byte) (message, error) { return s.open(sealed) }

// anyOwner is false: a feed ends at a unit of another session.
func anyOwner() bool { return false }

// gopAnswer is what a GOP request for desc is answered with: the GOP of
// the camera stream asked for.
func gopAnswer(_ Description, gop GOPSource) []*media.Unit { return gop() }

// fenceFromElsewhere is true: a claim taken over elsewhere ends the local one.
func fenceFromElsewhere() bool { return true }
