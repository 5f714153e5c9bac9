package fmp4

import (
	"fmt"
	"io"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	mfmp4 "github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"

	"vigil/internal/media"
)

const (
	// defaultVideoDur is the duration given to the last frame of a stream
	// when no earlier frame tells the frame rate (1/25 s).
	defaultVideoDur = videoClockRate / 25
	// maxPendingAudio bounds the audio samples waiting for the next video
	// frame. Past it, audio is written in a fragment of its own (or, before
	// the first fragment, dropped), so a camera whose video stalls while its
	// audio flows cannot grow the queue without bound.
	maxPendingAudio = 128
)

// muxer turns a reader's units into an init segment and fragments. One
// muxer serves one Stream call; it is not safe for concurrent use.
type muxer struct {
	w      io.Writer
	flush  func()
	egress func(*media.Unit) error

	video   *videoTrack // nil without a video track fMP4 can carry
	audio   *audioTrack // nil without an audio track fMP4 can carry
	videoID int
	audioID int

	// gop writes one fragment per GOP instead of one per frame, and
	// records each fragment's place (Segment).
	gop     bool
	written int64      // bytes written so far
	frags   []Fragment // with gop, the fragments written

	started   bool
	origin    time.Duration // session-clock time of decode time zero
	originVid int64         // origin in 90 kHz units
	wroteInit bool
	seq       uint32 // sequence number of the last fragment

	// held is the last video frame, written with the next one's arrival.
	held    *videoSample
	vq      []*videoSample // frames with their durations, to be written
	lastDur int64          // duration of the last video sample written, 90 kHz
	lastEnd int64          // decode time after the last video sample written, 90 kHz

	aSamples  []*mfmp4.Sample // audio waiting for the held frame's fragment
	aUnits    []*media.Unit   // the units whose frames are in aSamples
	aStart    int64           // decode time of aSamples[0]
	aNext     int64           // decode time after the last queued audio frame
	aAnyQueue bool            // aNext is valid
}

// videoSample is a video frame ready to be written but for its duration.
type videoSample struct {
	unit      *media.Unit
	dts       int64 // decode time since the origin, 90 kHz
	ptsOffset int32
	sync      bool
	dur       int64 // set once the next frame arrives
}

func newMuxer(tracks []*media.Track, w io.Writer, flush func(), egress func(*media.Unit) error) (*muxer, error) {
	m := &muxer{w: w, flush: flush, egress: egress}
	m.video, m.audio = pickTracks(tracks)
	if m.video == nil && m.audio == nil {
		return nil, ErrNoTracks
	}
	id := 0
	if m.video != nil {
		id++
		m.videoID = id
	}
	if m.audio != nil {
		id++
		m.audioID = id
	}
	return m, nil
}

// push takes the reader's next unit.
func (m *muxer) push(u *media.Unit) error {
	switch {
	case m.video != nil && u.Track == m.video.index:
		return m.pushVideo(u)
	case m.audio != nil && u.Track == m.audio.index:
		return m.pushAudio(u)
	}
	return nil // a track the output does not carry
}

func (m *muxer) pushVideo(u *media.Unit) error {
	if !m.started && !u.Key {
		return nil // the hub delivers a keyframe first; wait for one
	}
	if u.Key {
		if err := m.video.setParams(u.Payload); err != nil {
			return err
		}
	}
	pts, rel := m.decodeTime(u)
	s := &videoSample{
		unit:      u,
		dts:       rel,
		ptsOffset: int32(pts - m.originVid - rel),
		sync:      u.Key || m.randomAccess(u.Payload),
	}
	if m.held != nil {
		m.queueHeld(rel - m.held.dts)
		if !m.gop || s.sync {
			if err := m.writeFragment(); err != nil {
				return err
			}
		}
	}
	m.held = s
	return nil
}

// decodeTime returns a video unit's presentation time and its decode time
// since the origin (which the first call sets), both 90 kHz.
func (m *muxer) decodeTime(u *media.Unit) (pts, rel int64) {
	pts = media.DurationToClock(u.PTS, videoClockRate)
	dts, err := m.video.dts.Extract(u.Payload, pts)
	if err != nil {
		// The picture order is not one the extractor follows: assume no
		// reordering, as the cameras here send no B-frames.
		dts = pts
	}
	if !m.started {
		m.started = true
		m.originVid = dts
		m.origin = media.ClockToDuration(dts, videoClockRate)
	}
	rel = dts - m.originVid
	if m.held != nil && rel <= m.held.dts {
		rel = m.held.dts + 1 // decode times must increase
	}
	return pts, rel
}

// queueHeld queues the held frame with duration dur for the next fragment.
func (m *muxer) queueHeld(dur int64) {
	m.held.dur = dur
	m.vq = append(m.vq, m.held)
	m.held = nil
}

func (m *muxer) randomAccess(au [][]byte) bool {
	if m.video.h265 {
		return h265.IsRandomAccess(au)
	}
	return h264.IsRandomAccess(au)
}

func (m *muxer) pushAudio(u *media.Unit) error {
	if !m.started {
		if m.video != nil {
			return nil // audio before the first keyframe has no picture to go with
		}
		m.started = true
		m.origin = u.PTS
	}
	added, err := m.queueAudio(u)
	if err != nil || !added || m.video != nil {
		return err
	}
	return m.writeFragment() // audio only: a fragment per unit
}

// queueAudio adds a unit's frames to the pending audio and reports whether
// any were added; past maxPendingAudio it writes the pending audio first.
// Frame times follow the unit's PTS, snapped to the end of the previous
// frame when within half a frame of it, so that jitter does not break the
// decode timeline; real gaps stay gaps (between fragments, a jump of the
// next tfdt; inside one, a longer last frame).
func (m *muxer) queueAudio(u *media.Unit) (bool, error) {
	t := media.DurationToClock(u.PTS-m.origin, int64(m.audio.rate))
	added := false
	listed := false // u is in m.aUnits, so the egress check covers its frames
	for _, f := range u.Payload {
		d := m.audio.frameDur(f)
		if d <= 0 {
			continue // not a frame that can be timed
		}
		if m.aAnyQueue {
			switch diff := t - m.aNext; {
			case diff < -d/2:
				t += d // overlaps what is already queued or written: drop
				continue
			case diff <= d/2:
				t = m.aNext
			case len(m.aSamples) > 0:
				// A gap inside the fragment: the last frame lasts until this one.
				m.aSamples[len(m.aSamples)-1].Duration += uint32(diff)
				m.aNext = t
			}
		}
		if t < 0 {
			t += d // before decode time zero
			continue
		}
		if len(m.aSamples) >= maxPendingAudio {
			if !m.wroteInit {
				t += d
				continue
			}
			if err := m.writeFragment(); err != nil {
				return false, err
			}
			listed = false
		}
		if len(m.aSamples) == 0 {
			m.aStart = t
		}
		if !listed {
			m.aUnits = append(m.aUnits, u)
			listed = true
		}
		m.aSamples = append(m.aSamples, &mfmp4.Sample{Duration: uint32(d), Payload: f})
		m.aNext, m.aAnyQueue = t+d, true
		t += d
		added = true
	}
	return added, nil
}

// finish writes the held frame, with the previous frame's duration, and any
// pending audio. Stream calls it when the reader ends.
func (m *muxer) finish() error {
	if m.held != nil {
		d := m.lastDur
		if d <= 0 {
			d = defaultVideoDur
		}
		m.queueHeld(d)
	}
	return m.writeFragment()
}

// writeFragment writes one fragment: the queued video frames and the
// pending audio. The first fragment is preceded by the init segment, in the
// same write.
func (m *muxer) writeFragment() error {
	var units []*media.Unit
	var tracks []*mfmp4.PartTrack
	if len(m.vq) > 0 {
		vt := &mfmp4.PartTrack{ID: m.videoID, BaseTime: uint64(m.vq[0].dts)}
		for _, v := range m.vq {
			units = append(units, v.unit)
			// Each frame's AVCC copy is made here, for the write, not
			// when it is queued: a recorder's fragment is a GOP, and its
			// copies were held for the GOP's length (its units are held
			// anyway), one GOP of bytes per recorded stream.
			payload, err := h264.AVCC(v.unit.Payload).Marshal() // H.265 samples use the same 4-byte lengths
			if err != nil {
				return fmt.Errorf("fmp4: frame %d: %w", v.unit.Seq, err)
			}
			vt.Samples = append(vt.Samples, &mfmp4.Sample{
				Duration:        uint32(v.dur),
				PTSOffset:       v.ptsOffset,
				IsNonSyncSample: !v.sync,
				Payload:         payload,
			})
		}
		tracks = append(tracks, vt)
	}
	if len(m.aSamples) > 0 {
		units = append(units, m.aUnits...)
		tracks = append(tracks, &mfmp4.PartTrack{ID: m.audioID, BaseTime: uint64(m.aStart), Samples: m.aSamples})
	}
	if len(tracks) == 0 {
		return nil
	}

	// Invariant 3: every unit whose bytes are in this fragment is checked
	// right before the write; on a mismatch nothing of it is written.
	for _, u := range units {
		if err := m.egress(u); err != nil {
			return err
		}
	}
	// A buffer of this fragment's own: nothing written is ever reused
	// (invariant 6).
	buf := &seekablebuffer.Buffer{}
	if !m.wroteInit {
		if err := m.initSegment().Marshal(buf); err != nil {
			return fmt.Errorf("fmp4: init segment: %w", err)
		}
	}
	frag := m.fragment(int64(len(buf.Bytes())))
	part := mfmp4.Part{SequenceNumber: m.seq + 1, Tracks: tracks}
	if err := part.Marshal(buf); err != nil {
		return fmt.Errorf("fmp4: fragment %d: %w", part.SequenceNumber, err)
	}
	n, err := m.w.Write(buf.Bytes())
	m.written += int64(n)
	if err != nil {
		return fmt.Errorf("fmp4: write: %w", err)
	}
	m.seq++
	m.wroteInit = true
	if m.gop {
		m.frags = append(m.frags, frag)
	}
	if len(m.vq) > 0 {
		last := m.vq[len(m.vq)-1]
		m.lastDur, m.lastEnd = last.dur, last.dts+last.dur
		clear(m.vq)
		m.vq = m.vq[:0]
	}
	m.aSamples, m.aUnits = nil, nil
	if m.flush != nil {
		m.flush()
	}
	return nil
}

// fragment describes the fragment about to be written, after init bytes of
// init segment.
func (m *muxer) fragment(init int64) Fragment {
	f := Fragment{Offset: m.written + init}
	if len(m.vq) > 0 {
		f.Time = media.ClockToDuration(m.vq[0].dts, videoClockRate)
		f.Key = m.vq[0].sync
	} else if m.audio != nil {
		f.Time = media.ClockToDuration(m.aStart, int64(m.audio.rate))
	}
	return f
}

// initSegment describes the tracks; video codec parameters come from the
// first keyframe.
func (m *muxer) initSegment() *mfmp4.Init {
	init := &mfmp4.Init{}
	if m.video != nil {
		init.Tracks = append(init.Tracks, &mfmp4.InitTrack{
			ID: m.videoID, TimeScale: videoClockRate, Codec: m.video.codec(),
		})
	}
	if m.audio != nil {
		init.Tracks = append(init.Tracks, &mfmp4.InitTrack{
			ID: m.audioID, TimeScale: uint32(m.audio.rate), Codec: m.audio.codec,
		})
	}
	return init
}
