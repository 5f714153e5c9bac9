package stills

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"image"
	"image/jpeg"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"vigil/internal/access"
	"vigil/internal/datadir"
)

// uploadMeta describes the latest upload of a device+stream.
type uploadMeta struct {
	seq      uint64 // 0: no upload on disk
	captured time.Time
}

// maxPixels bounds an upload's picture (16.7 MP: above 4K and 12 MP
// cameras), so that rescaling one stays within tens of MB.
const maxPixels = 1 << 24

// File format of an upload at rest: magic, the sequence number (needed to
// open it: it is part of the associated data), then the sealed
// [captured unix nanoseconds (8 bytes) | JPEG].
var fileMagic = []byte("VST1")

const fileHeader = 4 + 8

// Upload stores a camera's still as the latest of its stream, sealed on
// disk under the device's key and cached. The caller must have
// authenticated the camera as device: the still is bound to it from here on.
// It refuses a body that is not a JPEG (ErrNotJPEG) or is over MaxUpload
// bytes or the pixel limit (ErrTooLarge).
func (s *Service) Upload(ctx context.Context, device access.DeviceID, stream access.StreamID, body io.Reader) error {
	if _, err := access.ParseDeviceID(string(device)); err != nil {
		return fmt.Errorf("stills: upload: %w", err)
	}
	stream, err := access.ParseStreamID(string(stream))
	if err != nil {
		return fmt.Errorf("stills: upload: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(body, s.cfg.MaxUpload+1))
	if err != nil {
		return fmt.Errorf("stills: upload from %s: %w", device, err)
	}
	if int64(len(data)) > s.cfg.MaxUpload {
		return fmt.Errorf("%w: over %d bytes", ErrTooLarge, s.cfg.MaxUpload)
	}
	cfg, err := checkJPEG(data)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	k := streamKey{device, stream}
	mu := s.uploadLock(k)
	mu.Lock()
	defer mu.Unlock()
	// The epoch secret is read under the lock that Handover takes too: an
	// upload sealed in the old epoch is deleted by it, and one that comes
	// after is sealed in the new epoch.
	epoch, err := s.cfg.Epochs.EpochSecret(ctx, device)
	if err != nil {
		return fmt.Errorf("stills: upload from %s: %w", device, err)
	}
	defer clear(epoch)
	now := time.Now()
	// Sequence numbers only grow, even if the clock steps back, so a cache
	// key never names two different uploads.
	seq := max(s.knownSeq(k)+1, uint64(now.UnixNano()))
	plain := make([]byte, 8, 8+len(data))
	binary.BigEndian.PutUint64(plain, uint64(now.UnixNano()))
	sealed, err := s.cfg.Sealer.Seal(device, epoch, stream, seq, append(plain, data...))
	if err != nil {
		return fmt.Errorf("stills: upload from %s: %w", device, err)
	}
	file := make([]byte, 0, fileHeader+len(sealed))
	file = append(binary.BigEndian.AppendUint64(append(file, fileMagic...), seq), sealed...)
	if err := datadir.WriteFile(s.path(k), "", bytes.NewReader(file), -1); err != nil {
		return fmt.Errorf("stills: upload from %s: %w", device, err)
	}
	if s.cfg.Replicate != nil {
		s.cfg.Replicate(device, stream, file)
	}

	f := &frame{jpeg: data, device: device, stream: stream, captured: now, source: SourceUpload, width: cfg.Width}
	s.cache.put(stillKey{device: device, stream: stream, source: fromUpload, seq: seq}, f)
	s.remember(k, uploadMeta{seq: seq, captured: now})
	return nil
}

// Replica stores the file of a still uploaded on another node of the
// cluster, as that node stored it, unless the one stored here is as new.
// It opens the file first, with ReplicaGrant's grant for device and the
// device's current epoch: a file sealed for another device, an ended epoch
// or with another sequence number (the associated data) is refused, so a
// misrouted file never replaces the camera's still and a forged sequence
// number never holds back later ones.
func (s *Service) Replica(ctx context.Context, device access.DeviceID, stream access.StreamID, file []byte) error {
	if _, err := access.ParseDeviceID(string(device)); err != nil {
		return fmt.Errorf("stills: replica: %w", err)
	}
	stream, err := access.ParseStreamID(string(stream))
	if err != nil {
		return fmt.Errorf("stills: replica: %w", err)
	}
	if len(file) < fileHeader || !bytes.Equal(file[:4], fileMagic) || int64(len(file)) > fileHeader+8+s.cfg.MaxUpload+1024 {
		return fmt.Errorf("stills: replica of %s: not a still file", device)
	}
	if s.cfg.ReplicaGrant == nil {
		return fmt.Errorf("stills: replica of %s: no ReplicaGrant to open it with", device)
	}
	seq := binary.BigEndian.Uint64(file[4:fileHeader])
	k := streamKey{device, stream}
	mu := s.uploadLock(k)
	mu.Lock()
	defer mu.Unlock()
	if seq <= s.knownSeq(k) {
		return nil
	}
	if err := s.openReplica(ctx, device, stream, seq, file[fileHeader:]); err != nil {
		return fmt.Errorf("stills: replica of %s refused: %w", device, err)
	}
	if err := datadir.WriteFile(s.path(k), "", bytes.NewReader(file), -1); err != nil {
		return fmt.Errorf("stills: replica of %s: %w", device, err)
	}
	// Forget what was known of the stream's upload: the next read opens
	// the new file with the reader's grant.
	s.mu.Lock()
	delete(s.uploads, k)
	s.mu.Unlock()
	return nil
}

// openReplica opens a replica's sealed part as device's, in its current
// epoch (read under the upload lock, as Upload reads it).
func (s *Service) openReplica(ctx context.Context, device access.DeviceID, stream access.StreamID, seq uint64, sealed []byte) error {
	g, err := s.cfg.ReplicaGrant(ctx, device)
	if err != nil {
		return err
	}
	epoch, err := s.cfg.Epochs.EpochSecret(ctx, device)
	if err != nil {
		return err
	}
	defer clear(epoch)
	plain, err := s.cfg.Sealer.Open(g, epoch, stream, seq, sealed)
	clear(plain)
	return err
}

// uploadLock returns the stripe lock of a device+stream.
func (s *Service) uploadLock(k streamKey) *sync.Mutex {
	return &s.uploadLocks[maphash.Comparable(s.seed, k)%uint64(len(s.uploadLocks))]
}

// knownSeq is the sequence number of the stored upload, 0 if none. It reads
// only the file's plaintext header: no key is needed.
func (s *Service) knownSeq(k streamKey) uint64 {
	s.mu.Lock()
	m, ok := s.uploads[k]
	s.mu.Unlock()
	if ok {
		return m.seq
	}
	f, err := os.Open(s.path(k))
	if err != nil {
		return 0
	}
	defer f.Close()
	var h [fileHeader]byte
	if _, err := io.ReadFull(f, h[:]); err != nil || !bytes.Equal(h[:4], fileMagic) {
		return 0
	}
	return binary.BigEndian.Uint64(h[4:])
}

// remember records m as the latest upload of k unless a newer one is known.
func (s *Service) remember(k streamKey, m uploadMeta) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.uploads[k]; !ok || m.seq > old.seq {
		s.uploads[k] = m
	}
}

// latestUpload returns the grant's device's latest upload, or nil. The
// first time a stream is asked for, its file is opened with the grant.
func (s *Service) latestUpload(ctx context.Context, g access.Grant, stream access.StreamID) *uploadMeta {
	k := streamKey{g.Device(), stream}
	s.mu.Lock()
	m, ok := s.uploads[k]
	s.mu.Unlock()
	if ok {
		if m.seq == 0 {
			return nil
		}
		return &m
	}
	f, m, err := s.readUpload(ctx, g, stream)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s.remember(k, uploadMeta{})
		return nil
	case err != nil:
		// Not remembered: a damaged or foreign file (one sealed in an epoch
		// that ended) is tried again and replaced by the camera's next
		// upload. An offline camera's page asks every few seconds: a
		// warning, at most once per uploadWarnEvery.
		if s.unopened.allow(time.Now()) {
			s.log.Warn("uploaded still does not open; ignored (such warnings at most once a minute)",
				"camera", g.Device(), "stream", stream, "error", err)
		}
		return nil
	}
	s.cache.put(stillKey{device: f.device, stream: stream, source: fromUpload, seq: m.seq}, f)
	s.remember(k, m)
	return &m
}

// readUpload reads and opens the stored upload of the grant's device, with
// the key of the device's current ownership epoch.
func (s *Service) readUpload(ctx context.Context, g access.Grant, stream access.StreamID) (*frame, uploadMeta, error) {
	device := g.Device()
	if _, err := access.ParseDeviceID(string(device)); err != nil {
		return nil, uploadMeta{}, fs.ErrNotExist // no file can have such a name
	}
	file, err := os.Open(s.path(streamKey{device, stream}))
	if err != nil {
		return nil, uploadMeta{}, err
	}
	defer file.Close()
	b, err := io.ReadAll(io.LimitReader(file, fileHeader+8+s.cfg.MaxUpload+1024))
	if err != nil {
		return nil, uploadMeta{}, err
	}
	if len(b) < fileHeader || !bytes.Equal(b[:4], fileMagic) {
		return nil, uploadMeta{}, errors.New("not a still file")
	}
	seq := binary.BigEndian.Uint64(b[4:fileHeader])
	epoch, err := s.cfg.Epochs.EpochSecret(ctx, device)
	if err != nil {
		return nil, uploadMeta{}, err
	}
	defer clear(epoch)
	plain, err := s.cfg.Sealer.Open(g, epoch, stream, seq, b[fileHeader:])
	if err != nil {
		return nil, uploadMeta{}, err
	}
	if len(plain) < 8 {
		return nil, uploadMeta{}, errors.New("still file too short")
	}
	captured := time.Unix(0, int64(binary.BigEndian.Uint64(plain)))
	data := plain[8:]
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, uploadMeta{}, err
	}
	f := &frame{jpeg: data, device: device, stream: stream, captured: captured, source: SourceUpload, width: cfg.Width}
	return f, uploadMeta{seq: seq, captured: captured}, nil
}

// uploadStill returns the upload m at width, rescaled at most once per width.
func (s *Service) uploadStill(ctx context.Context, g access.Grant, stream access.StreamID, m uploadMeta, width int) (*frame, error) {
	key := stillKey{device: g.Device(), stream: stream, source: fromUpload, seq: m.seq}
	orig := s.cache.get(key)
	if orig == nil {
		f, m2, err := s.readUpload(ctx, g, stream)
		if err != nil {
			return nil, fmt.Errorf("stills: uploaded still of %s: %w", g.Device(), err)
		}
		// A newer upload may have replaced the file meanwhile: serve it.
		key.seq = m2.seq
		s.cache.put(key, f)
		orig = f
	}
	if width == 0 || width >= orig.width {
		return orig, nil
	}
	key.width = width
	if f := s.cache.get(key); f != nil {
		return f, nil
	}
	return s.flights.do(ctx, flightKey(key), s.cfg.DecodeTimeout, false, func(ctx context.Context) (*frame, error) {
		if f := s.cache.get(key); f != nil {
			return f, nil
		}
		f, err := s.scaled(ctx, g.User(), orig, width)
		if err != nil {
			return nil, err
		}
		s.cache.put(key, f)
		return f, nil
	})
}

// smallPicture is the most pixels a still may have to be rescaled at once,
// outside the decode workers: a few milliseconds of work, less than the
// wait for a worker behind ffmpeg runs.
const smallPicture = 640 * 480

// scaled is orig rescaled to width (orig itself if it is no wider): a
// picture larger than smallPicture takes a decode worker in user's turn.
// A failure is ErrDecode, or the worker queue's ErrBusy.
func (s *Service) scaled(ctx context.Context, user access.UserID, orig *frame, width int) (*frame, error) {
	if width == 0 || width >= orig.width {
		return orig, nil
	}
	cfg, err := checkJPEG(orig.jpeg)
	if err != nil {
		return nil, fmt.Errorf("%w: rescale %s's still: %v", ErrDecode, orig.device, err)
	}
	if cfg.Width*cfg.Height > smallPicture {
		if err := s.acquire(ctx, user); err != nil {
			return nil, err
		}
		defer s.release()
	}
	s.scaleRuns.Add(1)
	jpg, w, err := scaleJPEG(orig.jpeg, width)
	if err == nil && ctx.Err() != nil {
		err = context.Cause(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: rescale %s's still: %v", ErrDecode, orig.device, err)
	}
	return &frame{jpeg: jpg, device: orig.device, stream: orig.stream, captured: orig.captured, source: orig.source, width: w}, nil
}

// path is the file of a device+stream's upload. Device ids are validated
// (a-z, 0-9, '-') before a path is built from them.
func (s *Service) path(k streamKey) string {
	return filepath.Join(s.cfg.Dir, string(k.device)+"."+string(k.stream)+".still")
}

// checkJPEG checks that b is one whole JPEG image (SOI first, EOI last, a
// header image/jpeg accepts) of a sane size.
func checkJPEG(b []byte) (image.Config, error) {
	if len(b) < 4 || b[0] != 0xff || b[1] != 0xd8 || b[len(b)-2] != 0xff || b[len(b)-1] != 0xd9 {
		return image.Config{}, fmt.Errorf("%w: no SOI/EOI markers", ErrNotJPEG)
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return image.Config{}, fmt.Errorf("%w: %v", ErrNotJPEG, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return image.Config{}, fmt.Errorf("%w: empty picture", ErrNotJPEG)
	}
	if cfg.Width*cfg.Height > maxPixels {
		return image.Config{}, fmt.Errorf("%w: %dx%d pixels, over %d", ErrTooLarge, cfg.Width, cfg.Height, maxPixels)
	}
	return cfg, nil
}

// uploadWarnEvery bounds the warnings of uploads that do not open.
const uploadWarnEvery = time.Minute

// rateLimit allows one event per interval (the zero value: per
// uploadWarnEvery), whoever asks.
type rateLimit struct{ last atomic.Int64 } // unix nanoseconds of the last allowed

// allow reports whether an event at now may happen, and if so counts it.
func (r *rateLimit) allow(now time.Time) bool {
	last := r.last.Load()
	return now.UnixNano()-last >= int64(uploadWarnEvery) && r.last.CompareAndSwap(last, now.UnixNano())
}
