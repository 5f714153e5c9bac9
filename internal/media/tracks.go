package media

import (
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
)

// TracksOf picks the formats of a session description that Vigil passes
// through — H.264 and H.265 video; AAC, Opus and G.711 audio — one per
// media, in order; medias with none of them are left out. It is the one
// codec allow-list: a camera's announce (ingest) and a track description
// from another node (cluster) both go through it.
func TracksOf(desc *description.Session) []*Track {
	var out []*Track
	for _, m := range desc.Medias {
		for _, f := range m.Formats {
			switch f.(type) {
			case *format.H264, *format.H265:
				out = append(out, &Track{Kind: Video, Format: f})
			case *format.MPEG4Audio, *format.Opus, *format.G711:
				out = append(out, &Track{Kind: Audio, Format: f})
			default:
				continue
			}
			break // one format per media
		}
	}
	return out
}

// Describe returns the session description of tracks: one media per track,
// in order, with the track's format. TracksOf of it gives tracks back.
func Describe(tracks []*Track) *description.Session {
	d := &description.Session{}
	for _, t := range tracks {
		typ := description.MediaTypeVideo
		if t.Kind == Audio {
			typ = description.MediaTypeAudio
		}
		d.Medias = append(d.Medias, &description.Media{Type: typ, Formats: []format.Format{t.Format}})
	}
	return d
}
