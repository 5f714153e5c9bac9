// Package loopback finds free ports on 127.0.0.1 for the programs that
// start Vigil on this machine to measure or test it (vigilbench, the leak
// canary). Servers under test listen on loopback only.
package loopback

import (
	"errors"
	"net"
	"strconv"
)

// Addr is 127.0.0.1:port.
func Addr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// TCPPorts returns n distinct ports that were free a moment ago.
func TCPPorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close() // held until all are chosen, so they differ
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// UDPPair returns an even port p with p and p+1 free for UDP (RTP and RTCP).
func UDPPair() (int, error) {
	for range 100 {
		a, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		p := a.LocalAddr().(*net.UDPAddr).Port
		if p%2 != 0 {
			a.Close()
			continue
		}
		b, err := net.ListenPacket("udp", Addr(p+1))
		a.Close()
		if err == nil {
			b.Close()
			return p, nil
		}
	}
	return 0, errors.New("no free even/odd UDP port pair")
}
