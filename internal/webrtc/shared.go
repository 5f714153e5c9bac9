package webrtc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"sync"
	"time"

	"github.com/pion/transport/v4"
	"github.com/pion/transport/v4/stdnet"
	pion "github.com/pion/webrtc/v4"
)

// What every PeerConnection would otherwise make afresh, shared by the
// server's sessions: the DTLS certificate and the list of network
// interfaces. Under CPU starvation, a WHEP POST spent most of its time
// making them (with the offer's parse, see trim).

// certRenew is how long one DTLS certificate serves. pion's certificates
// are valid for a month; peers check only the fingerprint in the SDP
// (RFC 8122 §5), so a server's one certificate for every session reveals
// nothing that the server's address does not.
const certRenew = 24 * time.Hour

// certs is the server's DTLS certificate (ECDSA P-256, as pion's default),
// made at first use and renewed daily.
type certs struct {
	mu   sync.Mutex
	cert *pion.Certificate // guarded by mu
	made time.Time         // guarded by mu
}

// get returns the current certificate.
func (c *certs) get() (pion.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cert == nil || time.Since(c.made) > certRenew {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return pion.Certificate{}, fmt.Errorf("webrtc: DTLS key: %w", err)
		}
		cert, err := pion.GenerateCertificate(key)
		if err != nil {
			return pion.Certificate{}, fmt.Errorf("webrtc: DTLS certificate: %w", err)
		}
		c.cert, c.made = cert, time.Now()
	}
	return *c.cert, nil
}

// ifaceRefresh is how long the list of interfaces is kept.
const ifaceRefresh = 10 * time.Second

// sharedNet is pion's standard network (sockets, name resolution) with
// the list of interfaces ICE gathers host candidates from read at most
// every ifaceRefresh, not once per PeerConnection (a netlink dump each).
type sharedNet struct {
	transport.Net
	mu  sync.Mutex
	ifs *stdnet.Net // guarded by mu; the interfaces as of at
	at  time.Time   // guarded by mu
}

var _ transport.Net = (*sharedNet)(nil)

func newSharedNet() (*sharedNet, error) {
	n, err := stdnet.NewNet()
	if err != nil {
		return nil, fmt.Errorf("webrtc: network interfaces: %w", err)
	}
	return &sharedNet{Net: n, ifs: n, at: time.Now()}, nil
}

// current is the list of interfaces, read again when older than
// ifaceRefresh (the last one stands if that fails). A stdnet.Net's list
// is not changed once read: a new one replaces it.
func (n *sharedNet) current() *stdnet.Net {
	n.mu.Lock()
	defer n.mu.Unlock()
	if time.Since(n.at) > ifaceRefresh {
		if fresh, err := stdnet.NewNet(); err == nil {
			n.ifs = fresh
		}
		n.at = time.Now()
	}
	return n.ifs
}

// Interfaces, InterfaceByIndex and InterfaceByName read the shared list.
func (n *sharedNet) Interfaces() ([]*transport.Interface, error) { return n.current().Interfaces() }

func (n *sharedNet) InterfaceByIndex(i int) (*transport.Interface, error) {
	return n.current().InterfaceByIndex(i)
}

func (n *sharedNet) InterfaceByName(name string) (*transport.Interface, error) {
	return n.current().InterfaceByName(name)
}
