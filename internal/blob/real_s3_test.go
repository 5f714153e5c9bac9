package blob_test

import (
	"testing"

	"vigil/internal/blob"
	"vigil/internal/blob/blobtest"
)

// TestRealS3 runs the suite against real S3-compatible servers. Under
// CI=true s3rver must be there (scripts/deps.sh installs it); weed only
// when VIGIL_WEED=1 asked deps.sh to build it.
func TestRealS3(t *testing.T) {
	for _, s := range blobtest.Servers {
		t.Run(s.Name, func(t *testing.T) {
			path, err := s.Command()
			if err != nil {
				if s.Required() {
					t.Fatalf("%s is missing (%v): run scripts/deps.sh, which installs it", s.Name, err)
				}
				t.Skipf("%s is not installed (scripts/deps.sh installs it)", s.Name)
			}
			endpoint := s.Start(t, path)
			blobtest.Run(t, func(t *testing.T) blob.Store { return newS3(t, endpoint, s.Access, s.Secret) })
		})
	}
}
