package blob_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"vigil/internal/blob"
	"vigil/internal/blob/blobtest"
)

// bucketSeq names a fresh bucket per subtest, so subtests sharing one
// server start empty.
var bucketSeq atomic.Int64

func newS3(t *testing.T, endpoint, access, secret string) blob.Store {
	t.Helper()
	s, err := blob.NewS3(context.Background(), blob.S3Config{
		Endpoint: endpoint, Region: "us-east-1", AccessKey: access, SecretKey: secret,
		Bucket: fmt.Sprintf("vigil-test-%d", bucketSeq.Add(1)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestFakeS3 runs the suite against gofakes3 in process: fast, but the
// same authors' idea of S3 on both sides is not proof; TestRealS3 is.
func TestFakeS3(t *testing.T) {
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(srv.Close)
	blobtest.Run(t, func(t *testing.T) blob.Store {
		return newS3(t, strings.TrimPrefix(srv.URL, "http://"), "key", "secret")
	})
}

func TestParseS3URL(t *testing.T) {
	for _, c := range []struct {
		raw  string
		want blob.S3Config
		ok   bool
	}{
		{"s3://AK:SK@s3.example.com/footage", blob.S3Config{Endpoint: "s3.example.com", Secure: true, Region: "us-east-1",
			Bucket: "footage", AccessKey: "AK", SecretKey: "SK"}, true},
		{"s3+http://AK:S%2FK@127.0.0.1:9000/b?region=eu-west-1", blob.S3Config{Endpoint: "127.0.0.1:9000", Region: "eu-west-1",
			Bucket: "b", AccessKey: "AK", SecretKey: "S/K"}, true},
		{"http://AK:SK@host/b", blob.S3Config{}, false},
		{"s3://host/b", blob.S3Config{}, false},
		{"s3://AK:SK@host/", blob.S3Config{}, false},
		{"s3://AK:SK@host/a/b", blob.S3Config{}, false},
		{"s3://AK@host/b", blob.S3Config{}, false},
	} {
		got, err := blob.ParseS3URL(c.raw)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseS3URL(%q) = %+v, %v", c.raw, got, err)
		}
	}
}
