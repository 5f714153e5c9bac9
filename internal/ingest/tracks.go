package ingest

import (
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"vigil/internal/media"
)

// TracksOf picks the formats of a session description that Vigil passes
// through — H.264 and H.265 video; AAC, Opus and G.711 audio — one per
// media, in order; medias with none of them are left out. It is the one
// codec allow-list: a camera's announce (ingest) and a track description
// from another node (cluster) both go through it. It lives here, not in
// media, because gortsplib's description package brings net/http, which
// the value types stay without (internal/app's TestLayers).
func TracksOf(desc *description.Session) []*media.Track {
	var out []*media.Track
	for _, m := range desc.Medias {
		for _, f := range m.Formats {
			switch f.(type) {
			case *format.H264, *format.H265:
				out = append(out, &media.Track{Kind: media.Video, Format: f})
			case *format.MPEG4Audio, *format.Opus, *format.G711:
				out = append(out, &media.Track{Kind: media.Audio, Format: f})
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
func Describe(tracks []*media.Track) *description.Session {
	d := &description.Session{}
	for _, t := range tracks {
		typ := description.MediaTypeVideo
		if t.Kind == media.Audio {
			typ = description.MediaTypeAudio
		}
		d.Medias = append(d.Medias, &description.Media{Type: typ, Formats: []format.Format{t.Format}})
	}
	return d
}
