package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"

	"vigil/internal/fmp4read"
)

var errNoVariant = errors.New("hls: multivariant playlist lists no stream")

// firstVariant returns the URI of the main stream of a multivariant
// playlist, or of its first stream if none is main (Vigil lists the
// lowest BANDWIDTH first: sub before main).
func firstVariant(body []byte) (string, error) {
	var mv playlist.Multivariant
	if err := mv.Unmarshal(body); err != nil {
		return "", fmt.Errorf("multivariant playlist: %w", err)
	}
	if len(mv.Variants) == 0 {
		return "", errNoVariant
	}
	for _, v := range mv.Variants {
		if strings.HasPrefix(v.URI, "main/") {
			return v.URI, nil
		}
	}
	return mv.Variants[0].URI, nil
}

// firstMedia fetches a multivariant playlist and returns the URL of its
// first stream's media playlist.
func firstMedia(ctx context.Context, c *webClient, mvURL string) (string, error) {
	body, _, err := c.get(ctx, mvURL)
	if err != nil {
		return "", err
	}
	uri, err := firstVariant(body)
	if err != nil {
		return "", err
	}
	return resolve(mvURL, uri)
}

// fetchInit fetches and parses the init section (EXT-X-MAP) of the media
// playlist pl at mURL.
func fetchInit(ctx context.Context, c *webClient, mURL string, pl *playlist.Media) (fmp4read.Init, error) {
	if pl.Map == nil {
		return fmp4read.Init{}, errors.New("hls: media playlist has no EXT-X-MAP")
	}
	u, err := resolve(mURL, pl.Map.URI)
	if err != nil {
		return fmp4read.Init{}, err
	}
	b, _, err := c.get(ctx, u)
	if err != nil {
		return fmp4read.Init{}, err
	}
	return fmp4read.ParseInit(b)
}

// fetchMedia fetches and parses a media playlist.
func fetchMedia(ctx context.Context, c *webClient, rawURL string) (*playlist.Media, error) {
	body, _, err := c.get(ctx, rawURL)
	if err != nil {
		return nil, err
	}
	var pl playlist.Media
	if err := pl.Unmarshal(body); err != nil {
		return nil, fmt.Errorf("media playlist: %w", err)
	}
	return &pl, nil
}

// allParts lists a media playlist's parts in order: those of its segments
// (RFC 8216bis §4.4.4.9: the server lists them for the last few), then
// those of the segment in progress.
func allParts(pl *playlist.Media) []*playlist.MediaPart {
	var out []*playlist.MediaPart
	for _, s := range pl.Segments {
		out = append(out, s.Parts...)
	}
	return append(out, pl.Parts...)
}

// newestDecodable returns the URI a player that wants a picture soonest
// would load: the newest part marked INDEPENDENT (it starts with a
// keyframe), or else the newest segment.
func newestDecodable(pl *playlist.Media) (string, bool) {
	parts := allParts(pl)
	for i := len(parts) - 1; i >= 0; i-- {
		if parts[i].Independent {
			return parts[i].URI, true
		}
	}
	if len(pl.Segments) > 0 {
		return pl.Segments[len(pl.Segments)-1].URI, true
	}
	return "", false
}

// nextPart is the media sequence number and part index of the part after
// the newest one listed (RFC 8216bis §6.2.5.2): the segment in progress
// follows the listed segments, and its parts are the playlist's own.
func nextPart(pl *playlist.Media) (msn, part int) {
	return pl.MediaSequence + len(pl.Segments), len(pl.Parts)
}

// blockingURL asks for a playlist reload that blocks until part part of
// segment msn exists (_HLS_msn and _HLS_part, RFC 8216bis §6.2.5.2).
func blockingURL(rawURL string, msn, part int) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set("_HLS_msn", strconv.Itoa(msn))
	q.Set("_HLS_part", strconv.Itoa(part))
	u.RawQuery = q.Encode()
	return u.String(), nil
}
