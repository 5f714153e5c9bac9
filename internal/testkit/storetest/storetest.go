// Package storetest is the store conformance suite: one set of tests that
// every store implementation (store/sqlite, store/postgres) passes, run
// from each implementation's own tests with a Backend that opens it.
// What only one implementation has (SQLite's pragmas, file modes, write
// gate and backups; Postgres's notifications) is tested beside it.
package storetest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/auth"
	"vigil/internal/seal"
	"vigil/internal/store"
	"vigil/internal/store/backend"
)

// Backend opens stores of one implementation for the suite.
type Backend struct {
	// New returns where a new, empty store lives: a file path, a DSN.
	New func(t *testing.T) string
	// Open opens the store at where, sealing secrets with secrets (nil:
	// none). It is also called in child processes, with a where from New.
	Open func(ctx context.Context, where string, secrets store.Secrets) (backend.Store, error)
	// Holds reports whether what the store at where keeps (its files, its
	// tables) contains s as it is, in clear.
	Holds func(t *testing.T, where, s string) bool
}

// Run runs the suite against b, each test as a subtest of t on a new store.
func Run(t *testing.T, b Backend) {
	for _, tt := range []struct {
		name string
		test func(t *testing.T, b Backend)
	}{
		{"Devices", testDevices},
		{"Users", testUsers},
		{"SurvivesReopen", testSurvivesReopen},
		{"ConcurrentOpen", testConcurrentOpen},
		{"SurvivesKill", testSurvivesKill},
		{"ClaimShareReset", testClaimShareReset},
		{"OwnershipEpochs", testOwnershipEpochs},
		{"SetPasswordCutsOffTheOldOne", testSetPasswordCutsOffTheOldOne},
		{"SourceSealedAtRest", testSourceSealedAtRest},
		{"Revocations", testRevocations},
		{"KillDuringChurnLeavesNothingHalfApplied", testKillDuringChurn},
		{"OAuthLinksAndTokens", testOAuthLinksAndTokens},
		{"OAuthTransactionRollsBack", testOAuthTransactionRollsBack},
		{"KillDuringLinkingLeavesNothingHalfApplied", testKillDuringLinking},
		{"ConcurrentWritersAllFinish", testConcurrentWritersAllFinish},
		{"TraceStatementsSeesEveryStatement", testTraceStatements},
		{"AlexaGrants", testAlexaGrants},
		{"AlexaSeen", testAlexaSeen},
		{"DirectoryAnswersAuth", testDirectoryAnswersAuth},
		{"Recordings", testRecordings},
		{"RetentionRules", testRetentionRules},
		{"PinsAndQuota", testPinsAndQuota},
		{"Exports", testExports},
		{"Events", testEvents},
		{"Continuous", testContinuous},
	} {
		t.Run(tt.name, func(t *testing.T) { tt.test(t, b) })
	}
}

// open opens a new, empty store, closed when the test ends.
func (b Backend) open(t *testing.T) backend.Store {
	t.Helper()
	return b.openAt(t, b.New(t), nil)
}

// openAt opens the store at where, closed when the test ends.
func (b Backend) openAt(t *testing.T, where string, secrets store.Secrets) backend.Store {
	t.Helper()
	s, err := b.Open(t.Context(), where, secrets)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func device(id, name string) store.Device {
	return store.Device{
		ID:         access.DeviceID(id),
		Name:       name,
		Credential: auth.HashCredential(id, "pw-"+id),
		CreatedAt:  time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC),
		// A device's first epoch starts when it is created.
		EpochStarted: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC),
	}
}

// createDevices creates device(id, name) for each pair of ids and names.
func createDevices(t *testing.T, s backend.Store, idNames ...string) {
	t.Helper()
	for i := 0; i+1 < len(idNames); i += 2 {
		if err := s.CreateDevice(t.Context(), device(idNames[i], idNames[i+1])); err != nil {
			t.Fatal(err)
		}
	}
}

// Secrets returns the secrets of a master key of fill bytes.
func Secrets(t testing.TB, fill byte) *seal.Secrets {
	t.Helper()
	s, err := seal.NewSecrets(bytes.Repeat([]byte{fill}, seal.MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	return s
}
