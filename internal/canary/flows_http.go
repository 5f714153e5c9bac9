package canary

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"image/jpeg"
	"io"
	"mime"
	"mime/multipart"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v5"

	"vigil/internal/fmp4read"
)

// maxStill bounds a still read by a viewer.
const maxStill = 4 << 20

// camPath is the API path of the visit's camera.
func (v *Visit) camPath(rest string) string { return "/api/cameras/" + v.Camera.ID + rest }

// mp4Flow reads progressive fMP4 and checks every sample's stamp.
func mp4Flow(ctx context.Context, v *Visit) error {
	res, err := v.get(ctx, v.camPath("/live.mp4"), true)
	if res == nil {
		return err
	}
	defer res.Body.Close()
	return readFMP4(v, res.Body)
}

// readFMP4 checks the fragments of a progressive fMP4 body until it ends,
// a violation, or a hang-up in cancel mode.
func readFMP4(v *Visit, body io.Reader) error {
	limit := int64(-1)
	if v.Cancel {
		limit = 1 + v.rng.Int64N(64<<10)
	}
	for n := int64(0); limit < 0 || n < limit; {
		frag, err := fmp4read.ReadFragment(body)
		if err != nil {
			return ignoreEnd(err)
		}
		n += int64(len(frag))
		if err := checkFragment(v, frag); err != nil || v.bad {
			return err
		}
	}
	v.Cancelled()
	return nil
}

// subFlow plays a camera's sub stream, over RTSP or progressive fMP4
// (?stream=sub): every stamp must be the sub stream's, not the main's. A
// visit for a camera with no sub stream turns to one the user may see.
func subFlow(ctx context.Context, v *Visit) error {
	if !v.Camera.Sub {
		var subs []*Camera
		for _, c := range v.c.layout.visible(v.User.Name) {
			if c.Sub {
				subs = append(subs, c)
			}
		}
		if len(subs) == 0 || !v.retarget(subs[v.rng.IntN(len(subs))]) {
			return nil
		}
	}
	v.Sub = true
	if v.rng.IntN(2) == 0 {
		return playRTSP(ctx, v, gortsplib.ProtocolTCP)
	}
	res, err := v.get(ctx, v.camPath("/live.mp4?stream=sub"), true)
	if res == nil {
		return err
	}
	defer res.Body.Close()
	return readFMP4(v, res.Body)
}

// mjpegFlow reads MJPEG and checks every part's block code.
func mjpegFlow(ctx context.Context, v *Visit) error {
	res, err := v.get(ctx, v.camPath("/mjpeg?fps=15&width="+v.width()), true)
	if res == nil {
		return err
	}
	defer res.Body.Close()
	_, params, err := mime.ParseMediaType(res.Header.Get("Content-Type"))
	if err != nil {
		return fmt.Errorf("mjpeg content type: %w", err)
	}
	mr := multipart.NewReader(res.Body, params["boundary"])
	parts := -1
	if v.Cancel {
		parts = v.rng.IntN(3)
	}
	for i := 0; parts < 0 || i < parts; i++ {
		p, err := mr.NextPart()
		if err != nil {
			return ignoreEnd(err)
		}
		b, err := io.ReadAll(io.LimitReader(p, maxStill))
		if err != nil {
			return ignoreEnd(err)
		}
		if !v.jpegPicture(b) {
			return nil
		}
	}
	v.Cancelled()
	return nil
}

// width picks a thumbnail width or "" for full size, half the time each
// (each width of a keyframe costs the server one decode).
func (v *Visit) width() string {
	return [...]string{"", "96"}[v.rng.IntN(2)]
}

// jpegPicture decodes a JPEG and checks its block code.
func (v *Visit) jpegPicture(b []byte) bool {
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		v.c.out(v.output).unreadable.Add(1)
		return true
	}
	return v.Picture(img)
}

// stillFlow fetches a few stills one after another.
func stillFlow(ctx context.Context, v *Visit) error {
	// A still checks one picture where a video visit checks dozens: a
	// still visit refreshes like a dashboard tile, so the stills the
	// Xiaomi and Wyze incidents leaked get their share of the checks.
	for range 2 + v.rng.IntN(10) {
		w := v.width()
		if err := v.still(ctx, v.camPath("/still.jpg?width="+w), true, w != ""); err != nil || v.bad || v.Attack {
			return err
		}
	}
	return nil
}

// still fetches one still and checks it: the bytes of an upload as
// uploaded, the block code of anything else (an upload rescaled to a
// smaller width too).
func (v *Visit) still(ctx context.Context, path string, basic, scaled bool) error {
	if v.Cancel {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(1+v.rng.IntN(40))*time.Millisecond)
		defer cancel()
	}
	res, err := v.get(ctx, path, basic)
	if res == nil {
		if v.Cancel && errors.Is(err, context.DeadlineExceeded) {
			v.Cancelled()
			return nil
		}
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxStill))
	if err != nil {
		if v.Cancel {
			v.Cancelled()
			return nil
		}
		return err
	}
	if _, known := v.Camera.uploaded(sha256.Sum256(b)); res.Header.Get("X-Still-Source") == "upload" && (!scaled || known) {
		v.Upload(b)
		return nil
	}
	v.jpegPicture(b)
	return nil
}

// thumbsFlow is a camera list page: thumbnails of every camera the user
// may see, fetched at once, and of one camera they may not.
func thumbsFlow(ctx context.Context, v *Visit) error {
	cams := v.c.layout.visible(v.User.Name)
	others := v.c.layout.Cameras
	cams = append(cams, others[v.rng.IntN(len(others))])
	var wg sync.WaitGroup
	sem := make(chan struct{}, 6)
	for _, c := range cams {
		sub := *v
		if !sub.retarget(c) {
			continue
		}
		sub.rng = newRand(v.rng.Uint64())
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			sub.still(ctx, sub.camPath("/still.jpg?width=96"), true, true)
		})
	}
	wg.Wait()
	return nil
}

// tokenFlow is a player without headers (a Cast receiver, a smart
// display): it gets a stream token and fetches the token's still or MP4
// URL. An attacker gets a token for a camera they may see and puts it on
// the URL of the camera they may not; a viewer tries that too, on a
// camera they may not see, after their own view.
func tokenFlow(ctx context.Context, v *Visit) error {
	l := v.c.layout
	vis := l.visible(v.User.Name)
	if len(vis) == 0 {
		return nil
	}
	target := v.Camera
	if v.Attack {
		target = vis[v.rng.IntN(len(vis))]
	}
	urls, err := tokenURLs(ctx, v.HTTP, v.Base, v.User, target.ID)
	if err != nil {
		return err
	}
	if err := v.viaToken(ctx, urls, target); err != nil || v.Attack || v.bad {
		return err
	}
	swap := *v
	if !swap.retarget(l.Cameras[v.rng.IntN(len(l.Cameras))]) || !swap.Attack {
		return nil
	}
	return swap.viaToken(ctx, urls, target)
}

// viaToken fetches the still or MP4 URL of a token minted for target, put
// on the visit's camera's path.
func (v *Visit) viaToken(ctx context.Context, urls map[string]string, target *Camera) error {
	kind := [...]string{"still", "mp4"}[v.rng.IntN(2)]
	u := strings.Replace(urls[kind], "/api/cameras/"+target.ID+"/", "/api/cameras/"+v.Camera.ID+"/", 1)
	if kind == "still" {
		return v.still(ctx, u, false, false)
	}
	res, err := v.get(ctx, u, false)
	if res == nil {
		return err
	}
	defer res.Body.Close()
	return readFMP4(v, res.Body)
}

// ignoreEnd treats the end of a response as the end of a visit.
func ignoreEnd(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
