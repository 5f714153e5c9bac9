package stills

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"vigil/internal/access"
)

// Handover forgets everything the service holds of a camera that changed
// hands (invariant 8): its uploaded still files are deleted, and its known
// uploads, decoded stills and cached frames dropped, so the next holder is
// shown nothing of the old epoch. A file that fails to delete still cannot
// open: it was sealed under the old epoch's secret, which the store has
// replaced. The error names what could not be deleted.
func (s *Service) Handover(device access.DeviceID) error {
	if handoverKeepsStills() {
		return nil
	}
	var errs []error
	for _, stream := range []access.StreamID{access.StreamMain, access.StreamSub} {
		k := streamKey{device, stream}
		// The upload lock orders this with uploads: one sealed in the old
		// epoch is written before this deletes it.
		mu := s.uploadLock(k)
		mu.Lock()
		if err := os.Remove(s.path(k)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("stills: delete %s's upload: %w", device, err))
		}
		s.mu.Lock()
		delete(s.uploads, k)
		s.mu.Unlock()
		mu.Unlock()
	}
	s.mu.Lock()
	for k := range s.decoded {
		if k.device == device {
			delete(s.decoded, k)
		}
	}
	s.mu.Unlock()
	s.cache.dropDevice(device)
	return errors.Join(errs...)
}
