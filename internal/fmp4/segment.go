package fmp4

import (
	"io"
	"time"

	"vigil/internal/media"
)

// Fragment is where one fragment (moof+mdat) of a Segment starts.
type Fragment struct {
	Offset int64         // in the file
	Time   time.Duration // decode time from the file's start
	Key    bool          // starts with a keyframe
}

// Segment writes a self-contained fMP4 file of a stretch of a stream, for
// recording: the init segment, then one fragment per GOP (a fragment is
// written when the next keyframe arrives), decode time zero at its first
// keyframe. It remembers where each fragment starts, so a player can be
// sent from any keyframe. Units pass egress before their bytes are
// written, as in Stream.
type Segment struct {
	m *muxer
}

// NewSegment returns a Segment writing the stream of tracks to w.
func NewSegment(w io.Writer, tracks []*media.Track, egress func(*media.Unit) error) (*Segment, error) {
	m, err := newMuxer(tracks, w, nil, egress)
	if err != nil {
		return nil, err
	}
	m.gop = true
	return &Segment{m: m}, nil
}

// Push adds the stream's next unit. Video before the first keyframe is
// dropped.
func (s *Segment) Push(u *media.Unit) error { return s.m.push(u) }

// Started reports whether the segment has its first keyframe.
func (s *Segment) Started() bool { return s.m.started }

// Cut ends the segment where next, a keyframe that will start the next
// segment, begins: the last frame lasts until next's decode time. next is
// not written here.
func (s *Segment) Cut(next *media.Unit) error {
	m := s.m
	if m.held != nil && m.video != nil && next.Track == m.video.index {
		_, rel := m.decodeTime(next)
		m.queueHeld(rel - m.held.dts)
	}
	return s.Close()
}

// Close writes what is held: the last frame, with the previous frame's
// duration, and pending audio.
func (s *Segment) Close() error { return s.m.finish() }

// Fragments are the fragments written so far.
func (s *Segment) Fragments() []Fragment { return s.m.frags }

// Size is the number of bytes written.
func (s *Segment) Size() int64 { return s.m.written }

// Duration is the decode time written so far: the end of the last video
// frame written (or of the audio, for an audio-only stream).
func (s *Segment) Duration() time.Duration {
	m := s.m
	if m.video != nil {
		return media.ClockToDuration(m.lastEnd, videoClockRate)
	}
	if m.aAnyQueue {
		return media.ClockToDuration(m.aNext, int64(m.audio.rate))
	}
	return 0
}
