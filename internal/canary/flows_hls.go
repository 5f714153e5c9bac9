package canary

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
)

// hlsFlow plays HLS in a variant (ll, fmp4 or ts): the multivariant
// playlist, then the main stream's media playlist reloaded, and every new
// segment (or, for LL-HLS, part) fetched and checked.
func hlsFlow(variant string) func(ctx context.Context, v *Visit) error {
	return func(ctx context.Context, v *Visit) error {
		return playHLS(ctx, v, v.camPath("/hls/index.m3u8?variant="+variant), variant)
	}
}

// playHLS plays the multivariant playlist at mvPath (a path and query under
// the visit's camera's /hls/, a stream token's or the user's own).
func playHLS(ctx context.Context, v *Visit, mvPath, variant string) error {
	res, err := v.get(ctx, mvPath, true)
	if res == nil {
		return err
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	res.Body.Close()
	if err != nil {
		return ignoreEnd(err)
	}
	var mv playlist.Multivariant
	if err := mv.Unmarshal(body); err != nil || len(mv.Variants) == 0 {
		return fmt.Errorf("hls %s: multivariant playlist: %v", variant, err)
	}
	p := &hlsPlayer{v: v, dir: v.camPath("/hls/"), ts: variant == "ts", ll: variant == "ll", seen: map[string]bool{}}
	// A camera with a sub stream lists both: the player takes the first, and
	// its stamps must be that stream's (media playlists are <stream>/...).
	uri := mv.Variants[0].URI
	v.Sub = strings.HasPrefix(uri, "sub/")
	return p.play(ctx, uri)
}

type hlsPlayer struct {
	v      *Visit
	dir    string // path of the directory playlists are relative to
	ts, ll bool
	seen   map[string]bool
}

// play reloads the media playlist and fetches what is new until ctx ends.
func (p *hlsPlayer) play(ctx context.Context, media string) error {
	every := time.Second
	if p.ll {
		every = 200 * time.Millisecond
	}
	first := true
	for ctx.Err() == nil && !p.v.bad {
		uris, err := p.load(ctx, media)
		if err != nil {
			return ignoreEnd(err)
		}
		if first && len(uris) > 3 {
			for _, u := range uris[:len(uris)-3] {
				p.seen[u] = true // a player starts near live
			}
		}
		first = false
		for _, u := range uris {
			if p.seen[u] {
				continue
			}
			p.seen[u] = true
			if err := p.fetch(ctx, u); err != nil || p.v.bad {
				return ignoreEnd(err)
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(every):
		}
	}
	return nil
}

// load fetches the media playlist and lists its segments, or its parts for LL-HLS.
func (p *hlsPlayer) load(ctx context.Context, media string) ([]string, error) {
	res, err := p.v.get(ctx, p.dir+media, true)
	if res == nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	var pl playlist.Media
	if err := pl.Unmarshal(body); err != nil {
		return nil, fmt.Errorf("media playlist: %w", err)
	}
	dir := p.dir + dirOf(media)
	var uris []string
	for _, s := range pl.Segments {
		if p.ll {
			for _, part := range s.Parts {
				uris = append(uris, dir+part.URI)
			}
		} else {
			uris = append(uris, dir+s.URI)
		}
	}
	if p.ll {
		for _, part := range pl.Parts {
			uris = append(uris, dir+part.URI)
		}
	}
	return uris, nil
}

// dirOf returns the directory part of a relative URI ("main/ll/").
func dirOf(ref string) string {
	u, err := url.Parse(ref)
	if err != nil {
		return ""
	}
	for i := len(u.Path) - 1; i >= 0; i-- {
		if u.Path[i] == '/' {
			return u.Path[:i+1]
		}
	}
	return ""
}

// fetch gets one segment or part and checks its frames; in cancel mode it
// hangs up partway, as a player that gives up and retries would.
func (p *hlsPlayer) fetch(ctx context.Context, uri string) error {
	if p.v.Cancel && p.v.rng.IntN(3) == 0 {
		cctx, cancel := context.WithTimeout(ctx, time.Duration(1+p.v.rng.IntN(20))*time.Millisecond)
		res, err := p.v.get(cctx, uri, true)
		if res != nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
		cancel()
		p.v.Cancelled()
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
	}
	res, err := p.v.get(ctx, uri, true)
	if res == nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return err
	}
	if p.ts {
		return checkTS(p.v, b)
	}
	return checkFragment(p.v, b)
}

// checkTS checks the H.264 access units of an MPEG-TS segment.
func checkTS(v *Visit, b []byte) error {
	r := &mpegts.Reader{R: bytes.NewReader(b)}
	if err := r.Initialize(); err != nil {
		return fmt.Errorf("mpegts: %w", err)
	}
	for _, t := range r.Tracks() {
		if _, ok := t.Codec.(*mpegts.CodecH264); ok {
			r.OnDataH264(t, func(_, _ int64, au [][]byte) error {
				v.Frame(au)
				return nil
			})
		}
	}
	for !v.bad {
		if err := r.Read(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("mpegts: %w", err)
		}
	}
	return nil
}
