package rtsp

import "net"

// listenFramed is the listener for gortsplib's server. For now it is plain TCP.
func listenFramed(network, address string) (net.Listener, error) {
	return net.Listen(network, address)
}
