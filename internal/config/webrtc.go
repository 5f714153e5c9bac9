package config

import (
	"net"
	"slices"
	"strconv"
	"strings"
)

// validateWebRTC checks the WebRTC keys, reporting each problem with bad.
func (c Config) validateWebRTC(bad func(key, value, problem, want string)) {
	turn := false
	for _, s := range c.WebRTCICEServers {
		// RFC 7064 and RFC 7065: scheme:host[:port][?transport=udp|tcp].
		scheme, rest, _ := strings.Cut(s, ":")
		host, _, _ := strings.Cut(rest, "?")
		if !slices.Contains([]string{"stun", "stuns", "turn", "turns"}, scheme) || host == "" ||
			strings.HasPrefix(host, "/") || strings.ContainsAny(host, " @") {
			bad("webrtc_ice_servers", s, "is not a STUN or TURN URL",
				"comma-separated URLs such as stun:stun.example.com:3478 or turn:turn.example.com?transport=udp")
			continue
		}
		turn = turn || strings.HasPrefix(scheme, "turn")
	}
	if turn && (c.WebRTCICEUsername == "" || c.WebRTCICECredential.Reveal() == "") {
		bad("webrtc_ice_username", c.WebRTCICEUsername, "TURN servers need a user name and a credential",
			"the TURN user name, and webrtc_ice_credential (or VIGIL_WEBRTC_ICE_CREDENTIAL) to its password")
	}
	for _, a := range c.WebRTCHostAddresses {
		if net.ParseIP(a) == nil {
			bad("webrtc_host_addresses", a, "is not an IP address", "comma-separated IP addresses such as 203.0.113.7")
		}
	}
	lo, hi := c.WebRTCUDPPortMin, c.WebRTCUDPPortMax
	switch {
	case lo < 0 || lo > 65535 || hi < 0 || hi > 65535:
		bad("webrtc_udp_port_min", strconv.Itoa(lo)+"-"+strconv.Itoa(hi), "ports must be 1-65535", "a range such as 50000-50999, or 0 and 0 for any port")
	case (lo == 0) != (hi == 0) || lo > hi:
		bad("webrtc_udp_port_min", strconv.Itoa(lo)+"-"+strconv.Itoa(hi), "set both bounds of the range, lowest first, or neither",
			"a range such as 50000 with webrtc_udp_port_max (or VIGIL_WEBRTC_UDP_PORT_MAX) 50999")
	}
}
