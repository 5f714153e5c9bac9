package canary

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"vigil/internal/vigilproc"
)

// server is the vigil binary under test, on loopback ports that stay the
// same across restarts (the proxies point at them), with one Google and
// one Alexa client configured.
type server struct {
	*vigilproc.Proc
	googleSecret string // of the Google and Alexa clients configured in Vigil
}

func newServer(bin, dir, mutant string, cameras int) (*server, error) {
	s := &server{googleSecret: randomHex(16)}
	p, err := vigilproc.New(vigilproc.Config{Bin: bin, Data: filepath.Join(dir, "data"), Log: filepath.Join(dir, "vigil.log"),
		Env: []string{"VIGIL_TRUSTED_PROXIES=127.0.0.1/32", "VIGIL_MUTANT=" + mutant,
			"VIGIL_OAUTH_CLIENTS=" + assistantClients(s.googleSecret),
			// Every simulated camera connects from 127.0.0.1: the
			// per-address RTSP cap would refuse the households, not
			// strangers (HTTP requests name their household in
			// X-Forwarded-For, and a trusted proxy's connections are not
			// capped).
			"VIGIL_RTSP_MAX_CONNS_PER_ADDRESS=1000000",
			// Recordings are a flow too: short segments, so that a run
			// reads some of every camera's.
			"VIGIL_RECORD=true", "VIGIL_RECORD_SEGMENT=" + recordSegment(cameras).String()}})
	if err != nil {
		return nil, err
	}
	s.Proc = p
	return s, nil
}

// metricViolations is the server's count of egress checks that failed.
const metricViolations = "vigil_isolation_violations_total"

// violations reads vigil_isolation_violations_total of the running process.
func (s *server) violations(ctx context.Context) (float64, error) {
	m, err := s.Metrics(ctx, metricViolations)
	if err != nil {
		return 0, err
	}
	v, ok := m[metricViolations]
	if !ok {
		return 0, errors.New("metrics: " + metricViolations + " missing")
	}
	return v, nil
}

// Client addresses. Every request of the canary reaches Vigil from
// loopback (through toxiproxy), so each names the client it stands for in
// X-Forwarded-For, which Vigil believes from 127.0.0.1 (trusted_proxies;
// a Vigil that has no such setting ignores both): a user's household has
// an address of its own, and a credential attacker another. Otherwise one
// address would carry everybody's failed sign-ins, and the attacks the
// canary makes would lock its own households out.
// recordSegment is the canary's segment length: 4 s, longer with many
// cameras so that the store sees about ten segments a second, as an
// operator's 600 cameras would at one-minute segments (at 4 s, 200 cameras
// closed 50 a second, each fsynced and indexed, and starved the store's
// other writes).
func recordSegment(cameras int) time.Duration {
	return max(4*time.Second, time.Duration(cameras)*time.Second/10)
}

func householdAddr(user int) string { return fmt.Sprintf("10.0.%d.%d", user/250, user%250+1) }

func attackerAddr(n int) string { return fmt.Sprintf("198.51.100.%d", n%254+1) }

// forwardedFor is the header naming the client a request stands for.
const forwardedFor = "X-Forwarded-For"

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
