package stills

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"vigil/internal/access"
)

// fakeEpochs gives every device an epoch secret, replaced by next.
type fakeEpochs struct {
	mu      sync.Mutex
	secrets map[access.DeviceID][]byte
}

func (f *fakeEpochs) EpochSecret(_ context.Context, device access.DeviceID) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.secrets[device] == nil {
		f.newSecret(device)
	}
	return bytes.Clone(f.secrets[device]), nil
}

// next starts a new epoch of device: its old secret is gone.
func (f *fakeEpochs) next(device access.DeviceID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.newSecret(device)
}

// newSecret replaces device's secret. Caller holds mu.
func (f *fakeEpochs) newSecret(device access.DeviceID) {
	if f.secrets == nil {
		f.secrets = map[access.DeviceID][]byte{}
	}
	f.secrets[device] = make([]byte, 32)
	rand.Read(f.secrets[device])
}

// TestUploadBeforeTheEpochNotShown: an uploaded still captured before the
// grant's epoch (the share or the claim began later) is not served, and not
// counted as a violation either: it is never picked.
func TestUploadBeforeTheEpochNotShown(t *testing.T) {
	e := newEnv(t)
	upload(t, e.svc, camA, cameraJPEG(t, camA))
	old := issuer.MintLeased("u-test", camA, access.AudienceWeb, time.Hour, nil, time.Now().Add(-time.Minute))
	if st, err := e.svc.Get(context.Background(), old, Request{}); err != nil || st.Captured.Before(old.Epoch()) {
		t.Fatalf("grant older than the upload: %v (captured %v)", err, st.Captured)
	}
	young := issuer.MintLeased("u-test", camA, access.AudienceWeb, time.Hour, nil, time.Now())
	if st, err := e.svc.Get(context.Background(), young, Request{}); !errors.Is(err, ErrOffline) || st.JPEG != nil {
		t.Fatalf("upload captured before the grant's epoch: %d bytes captured %v, %v; want ErrOffline",
			len(st.JPEG), st.Captured, err)
	}
	if v := counterValue(e.violations); v != 0 {
		t.Errorf("violations = %v, want 0", v)
	}
	// At egress, should a pre-epoch still ever reach it, it is a violation.
	err := e.svc.egress(young, &frame{jpeg: []byte{1}, device: camA, stream: access.StreamMain,
		captured: young.Epoch().Add(-time.Millisecond), source: SourceUpload})
	if !errors.Is(err, access.ErrBeforeEpoch) || counterValue(e.violations) != 1 {
		t.Fatalf("pre-epoch still at egress: %v, violations %v", err, counterValue(e.violations))
	}
}

// TestHandoverDeletesStills: a camera that changes hands leaves no still:
// its files are deleted and nothing is served from memory, while another
// camera's stills stay.
func TestHandoverDeletesStills(t *testing.T) {
	e := newEnv(t)
	upload(t, e.svc, camA, cameraJPEG(t, camA))
	upload(t, e.svc, camB, cameraJPEG(t, camB))
	for _, w := range []int{0, 160} { // fill the cache, original and rescaled
		if _, err := e.svc.Get(context.Background(), grant(camA), Request{Width: w}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.svc.Handover(camA); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(e.cfg.Dir, string(camA)+".main.still")); !os.IsNotExist(err) {
		t.Fatalf("still file of the old epoch: %v, want deleted", err)
	}
	for _, w := range []int{0, 160} {
		if st, err := e.svc.Get(context.Background(), grant(camA), Request{Width: w}); !errors.Is(err, ErrOffline) || st.JPEG != nil {
			t.Fatalf("width %d after handover: %d bytes, %v; want ErrOffline", w, len(st.JPEG), err)
		}
	}
	if st, err := e.svc.Get(context.Background(), grant(camB), Request{}); err != nil || st.Device != camB {
		t.Fatalf("another camera's still after cam A's handover: %v", err)
	}
}

// TestOldEpochStillDoesNotOpen: crypto-shredding. A still sealed in the
// old epoch, left on disk (a deletion that failed), does not open once the
// device's epoch secret was replaced, even to a grant with no epoch at all.
//
// The camera is offline and its page keeps asking: that is one warning,
// not an error per refresh.
func TestOldEpochStillDoesNotOpen(t *testing.T) {
	e := newEnv(t)
	upload(t, e.svc, camA, cameraJPEG(t, camA))
	e.cfg.Epochs.(*fakeEpochs).next(camA)
	var logs bytes.Buffer
	e.cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	svc := e.restart(t) // nothing in memory: only the file
	for range 3 {
		if st, err := svc.Get(context.Background(), grant(camA), Request{}); !errors.Is(err, ErrOffline) || st.JPEG != nil {
			t.Fatalf("still sealed in the old epoch: %d bytes, %v; want it not to open", len(st.JPEG), err)
		}
	}
	if n := strings.Count(logs.String(), "level=WARN"); strings.Contains(logs.String(), "level=ERROR") || n != 1 {
		t.Errorf("3 refreshes of an offline camera's unopenable still logged:\n%s\nwant one warning", logs.String())
	}
	// The camera's next upload is sealed in the new epoch and served.
	jpg := cameraJPEG(t, camA)
	upload(t, svc, camA, jpg)
	if st, err := svc.Get(context.Background(), grant(camA), Request{}); err != nil || !bytes.Equal(st.JPEG, jpg) {
		t.Fatalf("upload in the new epoch: %v", err)
	}
}
