package config

import "net/netip"

// validateTrustedProxies checks trusted_proxies, reporting each problem
// with bad.
func (c Config) validateTrustedProxies(bad func(key, value, problem, want string)) {
	for _, p := range c.TrustedProxies {
		if _, ok := proxyPrefix(p); !ok {
			bad("trusted_proxies", p, "is not a CIDR prefix or IP address",
				"comma-separated prefixes such as 127.0.0.1/32,10.0.0.0/8")
		}
	}
}

// TrustedProxyPrefixes returns TrustedProxies as prefixes; a single address
// is a prefix of its full length. Entries Validate refuses are left out.
func (c Config) TrustedProxyPrefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, p := range c.TrustedProxies {
		if pfx, ok := proxyPrefix(p); ok {
			out = append(out, pfx)
		}
	}
	return out
}

func proxyPrefix(s string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		// Clients' addresses are compared unmapped: ::ffff:10.0.0.0/104 is 10.0.0.0/8.
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			return netip.PrefixFrom(a.Unmap(), p.Bits()-96).Masked(), true
		}
		return p.Masked(), true
	}
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	return netip.Prefix{}, false
}
