package record

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"vigil/internal/access"
	"vigil/internal/blob"
	"vigil/internal/seal"
)

// Reconciliation after a crash. A segment's object is stored whole and
// then given its row, so a kill -9 can leave:
//
//   - a partial object (disk only: what the Put had written, in whole
//     sealed chunks): its whole fragments are salvaged, sealed again as
//     the segment's object and indexed; the fragment being written and
//     the sealed chunk being filled (under 64 KiB) are lost;
//   - an object without a row (killed between the Put and the row): it is
//     indexed from its whole fragments, as above;
//   - a row without an object (a lost or deleted object): the row is
//     removed.
//
// An object that does not open under its device's current epoch key (an
// earlier epoch's, whose secret is gone, or one of a deleted device) is
// deleted: nobody can ever read it. Nothing is served before it is whole
// and indexed: a partial object is never listed by the store.

// partials is a store that keeps what unfinished Puts wrote (blob.Disk);
// an S3 store has none, and a killed segment's upload is lost whole there.
type partials interface {
	Partials(ctx context.Context, prefix string) ([]blob.Partial, error)
	ReadPartial(p blob.Partial) ([]byte, error)
	RemovePartial(p blob.Partial) error
}

// Reconciled counts what Reconcile repaired.
type Reconciled struct {
	RowsDropped int // rows whose object was missing
	Indexed     int // objects without a row, indexed
	Salvaged    int // partial objects whose whole fragments were kept
	Deleted     int // objects and partials that could not be kept
}

// recordPrefix is where every segment's object lives.
const recordPrefix = "rec/"

// rowsPage bounds the rows read at once.
const rowsPage = 1000

// Reconcile makes the index and the blob store agree after a crash (see
// above). Run calls it before recording; it must not run beside a
// Recorder of the same store.
func (r *Recorder) Reconcile(ctx context.Context) (Reconciled, error) {
	var out Reconciled
	objs, err := r.cfg.Blobs.List(ctx, recordPrefix)
	if err != nil {
		return out, err
	}
	stored := make(map[string]bool, len(objs))
	for _, o := range objs {
		stored[o.Key] = true
	}
	indexed := make(map[string]bool)
	for after := int64(0); ; {
		rows, err := r.cfg.Index.RecordingsAfter(ctx, after, rowsPage)
		if err != nil {
			return out, err
		}
		for _, row := range rows {
			after, indexed[row.Object] = row.ID, true
			if !stored[row.Object] {
				if err := r.cfg.Index.DeleteRecording(ctx, row.ID); err != nil {
					return out, err
				}
				out.RowsDropped++
			}
		}
		if len(rows) < rowsPage {
			break
		}
	}
	for _, o := range objs {
		if !indexed[o.Key] {
			r.recover(ctx, o.Key, nil, &out)
		}
	}
	if ps, ok := r.cfg.Blobs.(partials); ok {
		left, err := ps.Partials(ctx, recordPrefix)
		if err != nil {
			return out, err
		}
		for _, p := range left {
			r.recover(ctx, p.Key, &p, &out)
			if err := ps.RemovePartial(p); err != nil {
				return out, err
			}
		}
	}
	r.metrics.reconciled.Add(float64(out.RowsDropped + out.Indexed + out.Salvaged + out.Deleted))
	return out, nil
}

// recover indexes what can be kept of the object under key (p: the
// partial a Put left of it, nil: the object itself), or deletes it.
func (r *Recorder) recover(ctx context.Context, key string, p *blob.Partial, out *Reconciled) {
	kept, err := r.salvage(ctx, key, p)
	switch {
	case err == nil && p != nil:
		out.Salvaged++
	case err == nil:
		out.Indexed++
	default:
		out.Deleted++
		if p == nil {
			if derr := r.cfg.Blobs.Delete(ctx, key); derr != nil {
				err = errors.Join(err, derr)
			}
		}
	}
	r.log.Warn("recorder: reconciled a segment left by a crash", "object", key, "partial", p != nil,
		"kept_fragments", len(kept.Fragments), "kept_duration", kept.Duration, "error", err)
}

// salvage reads the segment under key (or its partial p), keeps its whole
// fragments (sealing them again as the object if they are not all of it)
// and adds its row.
func (r *Recorder) salvage(ctx context.Context, key string, p *blob.Partial) (Recording, error) {
	rec, ok := parseObjectKey(key)
	if !ok {
		return rec, fmt.Errorf("record: %s is not a segment's key", key)
	}
	epoch, secret, err := r.cfg.Index.Epoch(ctx, rec.Device)
	if err != nil {
		return rec, err
	}
	defer clear(secret)
	sealed, err := r.read(ctx, key, p)
	if err != nil {
		return rec, err
	}
	name := seal.Segment{Stream: rec.Stream, ID: rec.SegmentID, Start: rec.Start}
	plain, err := r.cfg.Sealer.SalvageSegment(r.cfg.Grant(rec.Device), secret, name, sealed)
	if err != nil {
		return rec, err
	}
	s, err := scanFile(plain)
	if err != nil {
		return rec, err
	}
	rec.Epoch, rec.Fragments, rec.Size, rec.Duration = epoch, s.frags, s.end, s.duration
	if p != nil || seal.SealedSize(s.end) != int64(len(sealed)) {
		if err := r.reseal(ctx, rec, secret, plain[:s.end]); err != nil {
			return rec, err
		}
	}
	if _, err = r.cfg.Index.AddRecording(ctx, rec); errors.Is(err, ErrIndexed) {
		err = nil // its recorder (another node's) filed it meanwhile
	}
	return rec, err
}

// read returns the sealed bytes of the object under key, or of p.
func (r *Recorder) read(ctx context.Context, key string, p *blob.Partial) ([]byte, error) {
	if p != nil {
		return r.cfg.Blobs.(partials).ReadPartial(*p)
	}
	rc, err := r.cfg.Blobs.Get(ctx, key, 0, -1)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// reseal stores plain as the segment's whole object, sealed anew (a new
// salt: a new key, so no chunk nonce is used twice).
func (r *Recorder) reseal(ctx context.Context, rec Recording, secret, plain []byte) error {
	var buf bytes.Buffer
	sw, err := r.cfg.Sealer.NewSegmentWriter(&buf, rec.Device, secret, seal.Segment{Stream: rec.Stream, ID: rec.SegmentID, Start: rec.Start})
	if err != nil {
		return err
	}
	if _, err := sw.Write(plain); err != nil {
		return err
	}
	if err := sw.Close(); err != nil {
		return err
	}
	return r.cfg.Blobs.Put(ctx, rec.Object, &buf, int64(buf.Len()))
}

// parseObjectKey reads back what objectKey built: the device, stream,
// start and segment id, and the key itself as Object.
func parseObjectKey(key string) (Recording, bool) {
	parts := strings.Split(key, "/")
	if len(parts) != 4 || parts[0]+"/" != recordPrefix {
		return Recording{}, false
	}
	startS, idS, ok := strings.Cut(strings.TrimSuffix(parts[3], ".seg"), "-")
	start, err1 := strconv.ParseInt(startS, 10, 64)
	id, err2 := strconv.ParseUint(idS, 16, 64)
	if !ok || err1 != nil || err2 != nil {
		return Recording{}, false
	}
	tg := Target{Device: access.DeviceID(parts[1]), Stream: access.StreamID(parts[2])}
	rec := Recording{Device: tg.Device, Stream: tg.Stream, SegmentID: id, Start: time.Unix(0, start).UTC(), Object: key}
	return rec, objectKey(tg, rec.Start, id) == key
}
