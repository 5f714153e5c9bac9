package loopback

import (
	"io"
	"net"
	"time"
)

// Balance is an L4 load balancer on l, as an operator's in front of the
// nodes' RTSP ports: it relays each connection it accepts to the first of
// backends() (asked per connection, perhaps concurrently) that takes a dial within a second,
// until the client or the backend closes. It returns when l is closed.
func Balance(l net.Listener, backends func() []string) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() { relay(c, backends()) }()
	}
}

// relay copies c to and from the first of backends that answers.
func relay(c net.Conn, backends []string) {
	defer c.Close()
	for _, be := range backends {
		up, err := net.DialTimeout("tcp", be, time.Second)
		if err != nil {
			continue
		}
		defer up.Close()
		done := make(chan struct{}, 2)
		go func() { io.Copy(up, c); done <- struct{}{} }()
		go func() { io.Copy(c, up); done <- struct{}{} }()
		<-done
		return
	}
}
