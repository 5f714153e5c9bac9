package webrtc

import (
	"fmt"
	"sync"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/interceptor/pkg/nack"
	pion "github.com/pion/webrtc/v4"
)

// h264Profiles are the profile-level-ids answered, all in packetization
// mode 1 (RFC 6184 §8.1): Baseline, Constrained Baseline, Main, High,
// Constrained High and High 4:4:4 Predictive (Chromium's only offer whose
// decoder takes High). pion matches them on profile_idc and the constraint
// byte (the level is free), so these cover what browsers offer. The
// camera's stream is passed through as it is, so a session answers only
// the offered profiles whose decoders decode it (video.carriers).
func h264Profiles() []string {
	return []string{"42001f", "42e01f", "4d001f", "64001f", "640c1f", "f4001f"}
}

// h264Fmtp is the fmtp line answered for one profile.
func h264Fmtp(profile string) string {
	return "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=" + profile
}

// answerCodecs are the H.264 payload formats answered, one per profile.
func answerCodecs() []pion.RTPCodecParameters {
	feedback := []pion.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: pion.TypeRTCPFBTransportCC}}
	var out []pion.RTPCodecParameters
	pt := pion.PayloadType(102)
	for _, p := range h264Profiles() {
		out = append(out, pion.RTPCodecParameters{PayloadType: pt, RTPCodecCapability: pion.RTPCodecCapability{
			MimeType: pion.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: h264Fmtp(p), RTCPFeedback: feedback}})
		pt += 2
	}
	return out
}

// newAPI builds the pion API every session's PeerConnection comes from:
// the codecs passed through (H.264, Opus, G.711), NACK retransmission,
// RTCP sender reports, transport-wide congestion control feedback (TWCC)
// feeding an estimate of each PeerConnection's path (kept in est), and the ICE settings of cfg. A peer's PLIs and FIRs are not
// answered: a camera's keyframes cannot be asked for, and the next one
// comes within a GOP.
func newAPI(cfg Config, est *estimators, resends *byPC[*resendLimit]) (*pion.API, error) {
	me := &pion.MediaEngine{}
	for _, c := range answerCodecs() {
		if err := me.RegisterCodec(c, pion.RTPCodecTypeVideo); err != nil {
			return nil, fmt.Errorf("webrtc: register H.264 %s: %w", c.SDPFmtpLine, err)
		}
	}
	audio := []pion.RTPCodecParameters{
		{PayloadType: 111, RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}},
		{PayloadType: 0, RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypePCMU, ClockRate: 8000}},
		{PayloadType: 8, RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypePCMA, ClockRate: 8000}},
	}
	for _, c := range audio {
		if err := me.RegisterCodec(c, pion.RTPCodecTypeAudio); err != nil {
			return nil, fmt.Errorf("webrtc: register %s: %w", c.MimeType, err)
		}
	}
	ir := &interceptor.Registry{}
	// NACKs are answered from the packets sent, kept by reference: they
	// are never reused (fresh from the packetizer, or the hub's immutable
	// NAL units themselves), so the responder needs no copies (RFC 4585).
	responder, err := nack.NewResponderInterceptor(nack.DisableCopy())
	if err != nil {
		return nil, fmt.Errorf("webrtc: NACK responder: %w", err)
	}
	ir.Add(resendFactory{resends}) // under the responder: bounds its answers
	ir.Add(responder)
	if err := pion.ConfigureRTCPReports(ir); err != nil {
		return nil, fmt.Errorf("webrtc: RTCP report interceptors: %w", err)
	}
	if err := configureCongestion(me, ir, est); err != nil {
		return nil, err
	}
	se, err := settings(cfg)
	if err != nil {
		return nil, err
	}
	return pion.NewAPI(pion.WithMediaEngine(me), pion.WithInterceptorRegistry(ir), pion.WithSettingEngine(se)), nil
}

// configureCongestion numbers every packet for transport-wide congestion
// control feedback (TWCC) and gives each PeerConnection a pathEstimate
// fed by the peer's reports, through pion's cc interceptor. Packets are
// not paced to the estimate: the session's adaptation (adapt.go) chooses
// what is sent, by stream and mode, at keyframes.
func configureCongestion(me *pion.MediaEngine, ir *interceptor.Registry, est *estimators) error {
	f, err := cc.NewInterceptor(func() (cc.BandwidthEstimator, error) { return &pathEstimate{}, nil })
	if err != nil {
		return fmt.Errorf("webrtc: congestion control: %w", err)
	}
	f.OnNewPeerConnection(est.add)
	ir.Add(f)
	// Added after the estimator, so that it numbers packets before the
	// estimator sees them (pion chains interceptors last-added outermost).
	if err := pion.ConfigureTWCCHeaderExtensionSender(me, ir); err != nil {
		return fmt.Errorf("webrtc: TWCC header extension: %w", err)
	}
	return nil
}

// byPC hands what pion makes for each PeerConnection inside
// NewPeerConnection (its bandwidth estimator, its retransmission bound) to
// the session that made it, by the PeerConnection's id.
type byPC[T any] struct {
	mu sync.Mutex
	m  map[string]T // guarded by mu
}

func (b *byPC[T]) add(pc string, v T) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = map[string]T{}
	}
	b.m[pc] = v
}

// take returns and forgets pc's value; the zero value if it has none.
func (b *byPC[T]) take(pc string) T {
	b.mu.Lock()
	defer b.mu.Unlock()
	v := b.m[pc]
	delete(b.m, pc)
	return v
}

// estimators holds each PeerConnection's bandwidth estimator.
type estimators = byPC[cc.BandwidthEstimator]

// settings are the ICE and logging settings of cfg.
func settings(cfg Config) (pion.SettingEngine, error) {
	se := pion.SettingEngine{LoggerFactory: pionLogs{cfg.Logger}}
	n, err := newSharedNet()
	if err != nil {
		return se, err
	}
	se.SetNet(n)
	// Remote .local candidates are not resolved: a browser that hides its
	// addresses behind mDNS names still connects, as a peer-reflexive
	// candidate learnt from its checks. That saves an mDNS socket per session.
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]pion.NetworkType{pion.NetworkTypeUDP4, pion.NetworkTypeUDP6})
	se.SetICETimeouts(cfg.iceTimeouts())
	if cfg.UDPPortMin != 0 {
		if err := se.SetEphemeralUDPPortRange(cfg.UDPPortMin, cfg.UDPPortMax); err != nil {
			return se, fmt.Errorf("webrtc: UDP port range: %w", err)
		}
	}
	if len(cfg.HostAddresses) == 0 {
		se.SetIncludeLoopbackCandidate(true) // viewers on the same machine, and tests
	} else {
		rule := pion.ICEAddressRewriteRule{External: cfg.HostAddresses,
			AsCandidateType: pion.ICECandidateTypeHost, Mode: pion.ICEAddressRewriteReplace}
		if err := se.SetICEAddressRewriteRules(rule); err != nil {
			return se, fmt.Errorf("webrtc: host addresses: %w", err)
		}
	}
	return se, nil
}

// iceServers converts cfg's servers for a PeerConnection.
func iceServers(cfg Config) []pion.ICEServer {
	out := make([]pion.ICEServer, 0, len(cfg.ICEServers))
	for _, s := range cfg.ICEServers {
		out = append(out, pion.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
	}
	return out
}
