package webrtc

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Config tunes a Server. Zero fields take the documented defaults.
type Config struct {
	// ICEServers are the STUN and TURN servers the server gathers
	// server-reflexive and relayed candidates from, for deployments behind
	// NAT. It defaults to none: host candidates only.
	ICEServers []ICEServer
	// HostAddresses are the IP addresses advertised in place of the
	// gathered host candidates' (1:1 NAT: a cloud VM's public address).
	// It defaults to none: the loopback and interface addresses gathered
	// are advertised as they are.
	HostAddresses []string
	// UDPPortMin and UDPPortMax bound the UDP ports of ICE candidates, for
	// firewalls. They default to 0: any ephemeral port.
	UDPPortMin, UDPPortMax uint16
	// NegotiationTimeout is how long a peer has, after the answer, to
	// connect (ICE and DTLS); a session that is not connected by then is
	// dropped. It defaults to 15 seconds.
	NegotiationTimeout time.Duration
	// DisconnectedTimeout is how long a connected peer may be silent (no
	// packet at all, RTCP and ICE consent checks included) before its
	// session ends. It defaults to 10 seconds.
	DisconnectedTimeout time.Duration
	// MaxSessions bounds the live sessions, negotiating ones included.
	// It defaults to 256.
	MaxSessions int
	// MaxSessionsPerUser bounds one user's live sessions. It defaults to 16.
	MaxSessionsPerUser int
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Metrics defaults to a set registered nowhere.
	Metrics *Metrics

	// adapt times the adaptation; zero: defaultAdapt. Tests shorten it.
	adapt adaptConfig
}

// ICEServer is a STUN or TURN server (RFC 7064, RFC 7065 URLs such as
// stun:stun.example.com:3478 or turn:turn.example.com?transport=udp).
type ICEServer struct {
	URLs       []string
	Username   string
	Credential string
}

// Defaults.
const (
	defaultNegotiationTimeout  = 15 * time.Second
	defaultDisconnectedTimeout = 10 * time.Second
	defaultMaxSessions         = 256
	defaultMaxSessionsPerUser  = 16
)

// withDefaults fills the zero fields and checks the rest.
func (c Config) withDefaults() (Config, error) {
	if c.NegotiationTimeout <= 0 {
		c.NegotiationTimeout = defaultNegotiationTimeout
	}
	if c.DisconnectedTimeout <= 0 {
		c.DisconnectedTimeout = defaultDisconnectedTimeout
	}
	if c.MaxSessions <= 0 {
		c.MaxSessions = defaultMaxSessions
	}
	if c.MaxSessionsPerUser <= 0 {
		c.MaxSessionsPerUser = defaultMaxSessionsPerUser
	}
	if c.adapt == (adaptConfig{}) {
		c.adapt = defaultAdapt()
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics(prometheus.NewRegistry())
	}
	var errs []error
	for _, a := range c.HostAddresses {
		if net.ParseIP(a) == nil {
			errs = append(errs, fmt.Errorf("webrtc: host address %q is not an IP address", a))
		}
	}
	if c.UDPPortMax < c.UDPPortMin || (c.UDPPortMin == 0) != (c.UDPPortMax == 0) {
		errs = append(errs, fmt.Errorf("webrtc: UDP port range %d-%d: set both bounds, lowest first, or neither",
			c.UDPPortMin, c.UDPPortMax))
	}
	return c, errors.Join(errs...)
}

// iceTimeouts maps DisconnectedTimeout onto pion's ICE timers: the agent
// reports "disconnected" after half of it without a packet and "failed"
// after the other half; keepalives go out often enough that a live peer's
// answers keep the pair alive.
func (c Config) iceTimeouts() (disconnected, failed, keepalive time.Duration) {
	disconnected = c.DisconnectedTimeout / 2
	failed = c.DisconnectedTimeout - disconnected
	keepalive = min(2*time.Second, disconnected/2)
	return disconnected, failed, keepalive
}
