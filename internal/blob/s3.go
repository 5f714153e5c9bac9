package blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Config says where an S3-compatible bucket is.
type S3Config struct {
	// Endpoint is host:port of the service.
	Endpoint string
	// Secure uses HTTPS.
	Secure    bool
	Region    string
	Bucket    string
	AccessKey string
	SecretKey string
	// PartSize is the size of the parts an upload of unknown length is
	// sent in, each buffered in memory. It defaults to 5 MiB, S3's least.
	PartSize uint64
	// Transport defaults to minio-go's.
	Transport http.RoundTripper
}

// S3 keeps objects in a bucket of an S3-compatible service, through
// minio-go (aws-sdk-go-v2's default checksums break many such services).
// Keys are object names as they are. A Put of unknown length is a
// multipart upload, which S3 makes visible only when it completes.
type S3 struct {
	core   minio.Core
	bucket string
	part   uint64
}

var _ Store = (*S3)(nil)

// NewS3 returns an S3 store for cfg's bucket, which it creates if missing.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	c, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:     credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:    cfg.Secure,
		Region:    cfg.Region,
		Transport: cfg.Transport,
		// Path-style requests work on every S3-compatible service.
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		return nil, fmt.Errorf("blob: s3 %s: %w", cfg.Endpoint, err)
	}
	s := &S3{core: minio.Core{Client: c}, bucket: cfg.Bucket, part: cfg.PartSize}
	if s.part == 0 {
		s.part = 5 << 20
	}
	ok, err := c.BucketExists(ctx, cfg.Bucket)
	if err == nil && !ok {
		err = c.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{Region: cfg.Region})
	}
	if err != nil {
		return nil, fmt.Errorf("blob: s3 bucket %s at %s: %w", cfg.Bucket, cfg.Endpoint, err)
	}
	return s, nil
}

// Put implements Store.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	// Unsigned payloads: over plain HTTP minio-go would otherwise send
	// aws-chunked streaming signatures, which some S3-compatible services
	// store verbatim (gofakes3 did, corrupting multipart objects). What
	// Vigil stores is sealed, so the AEAD already protects its integrity.
	opts := minio.PutObjectOptions{PartSize: s.part, ContentType: "application/octet-stream", DisableContentSha256: true}
	if size < 0 {
		// Read the first part: an object that fits is sent in one request
		// (multipart needs at least one part of 5 MiB on most services).
		head, err := io.ReadAll(io.LimitReader(r, int64(s.part)))
		if err != nil {
			return fmt.Errorf("blob: put %s: %w", key, err)
		}
		if uint64(len(head)) < s.part {
			r, size = bytes.NewReader(head), int64(len(head))
		} else {
			r = io.MultiReader(bytes.NewReader(head), r)
		}
	}
	if _, err := s.core.Client.PutObject(ctx, s.bucket, key, r, size, opts); err != nil {
		return fmt.Errorf("blob: put %s: %w", key, err)
	}
	return nil
}

// Get implements Store.
func (s *S3) Get(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	if off < 0 {
		return nil, fmt.Errorf("%w: offset %d", ErrRange, off)
	}
	opts := minio.GetObjectOptions{}
	switch {
	case n == 0:
		if _, err := s.Stat(ctx, key); err != nil {
			return nil, err
		}
		return io.NopCloser(strings.NewReader("")), nil
	case n > 0:
		err := opts.SetRange(off, off+n-1)
		if err != nil {
			return nil, fmt.Errorf("blob: get %s: %w", key, err)
		}
	case off > 0:
		if err := opts.SetRange(off, 0); err != nil {
			return nil, fmt.Errorf("blob: get %s: %w", key, err)
		}
	}
	body, _, header, err := s.core.GetObject(ctx, s.bucket, key, opts)
	if err = s3Error(key, err); errors.Is(err, ErrRange) && off == 0 {
		// Any range of an empty object is refused by S3; Disk reads it empty.
		if fi, serr := s.Stat(ctx, key); serr == nil && fi.Size == 0 {
			return io.NopCloser(strings.NewReader("")), nil
		}
	}
	if err != nil {
		return nil, err
	}
	if opts.Header().Get("Range") == "" {
		return body, nil
	}
	// Some services answer a range with more than was asked: s3rver sends
	// the whole object for bytes=0-0 (and says so in Content-Range), others
	// ignore Range. Cut the answer to what was asked.
	skip := off
	if cr := header.Get("Content-Range"); cr != "" {
		var start, end, size int64
		if _, err := fmt.Sscanf(cr, "bytes %d-%d/%d", &start, &end, &size); err != nil || start > off {
			body.Close()
			return nil, fmt.Errorf("blob: get %s: answer for range %d+%d has Content-Range %q", key, off, n, cr)
		}
		skip = off - start
	}
	return cutBody(body, skip, n)
}

// cutBody is n bytes (n < 0: all) after the first skip of body.
func cutBody(body io.ReadCloser, skip, n int64) (io.ReadCloser, error) {
	if _, err := io.CopyN(io.Discard, body, skip); err != nil {
		body.Close()
		return nil, fmt.Errorf("blob: skip to %d: %w", skip, err)
	}
	if n < 0 {
		return body, nil
	}
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(body, n), body}, nil
}

// Stat implements Store.
func (s *S3) Stat(ctx context.Context, key string) (Info, error) {
	if err := CheckKey(key); err != nil {
		return Info{}, err
	}
	oi, err := s.core.Client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return Info{}, s3Error(key, err)
	}
	return Info{Key: key, Size: oi.Size, Modified: oi.LastModified}, nil
}

// List implements Store.
func (s *S3) List(ctx context.Context, prefix string) ([]Info, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, err
	}
	var out []Info
	for oi := range s.core.Client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if oi.Err != nil {
			return nil, fmt.Errorf("blob: list %s: %w", prefix, oi.Err)
		}
		out = append(out, Info{Key: oi.Key, Size: oi.Size, Modified: oi.LastModified})
	}
	slices.SortFunc(out, func(a, b Info) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// Delete implements Store.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	err := s.core.Client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{})
	if err != nil && !errors.Is(s3Error(key, err), ErrNotFound) {
		return fmt.Errorf("blob: delete %s: %w", key, err)
	}
	return nil
}

// s3Error maps the service's answers to the Store's errors.
func s3Error(key string, err error) error {
	if err == nil {
		return nil
	}
	resp := minio.ToErrorResponse(err)
	switch {
	case resp.Code == minio.NoSuchKey || resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("blob: %s: %w", key, ErrNotFound)
	case resp.Code == "InvalidRange" || resp.StatusCode == http.StatusRequestedRangeNotSatisfiable:
		return fmt.Errorf("blob: %s: %w", key, ErrRange)
	}
	return fmt.Errorf("blob: %s: %w", key, err)
}

// ParseS3URL reads an S3-compatible store's address:
// s3://ACCESS:SECRET@host:port/bucket for HTTPS, s3+http://… for plain
// HTTP, with an optional ?region= (default us-east-1).
func ParseS3URL(raw string) (S3Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return S3Config{}, errors.New("blob: s3 url does not parse") // url.Error would quote the secret
	}
	cfg := S3Config{Endpoint: u.Host, Region: u.Query().Get("region"), Bucket: strings.Trim(u.Path, "/")}
	switch u.Scheme {
	case "s3":
		cfg.Secure = true
	case "s3+http":
	default:
		return S3Config{}, errors.New("blob: s3 url must start with s3:// (HTTPS) or s3+http://")
	}
	if u.User != nil {
		cfg.AccessKey = u.User.Username()
		cfg.SecretKey, _ = u.User.Password()
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.Endpoint == "" || cfg.Bucket == "" || strings.Contains(cfg.Bucket, "/") || cfg.AccessKey == "" || cfg.SecretKey == "" {
		return S3Config{}, errors.New("blob: s3 url needs access key, secret, host and one bucket: s3://ACCESS:SECRET@host:port/bucket")
	}
	return cfg, nil
}
