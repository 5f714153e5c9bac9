package config

import (
	"fmt"
	"net/url"
)

// validateTLS checks the TLS settings: a known mode, the files or domains
// that mode needs, and listen addresses.
func (c Config) validateTLS(bad func(key, value, problem, want string)) []error {
	if c.TLS == "" || c.TLS == TLSOff { // rtsp_plain counts only with tls on
		return nil
	}
	if err := c.TLS.Validate(); err != nil {
		return []error{fmt.Errorf("tls: %w; set tls (or %s) to one of them", err, envName("tls"))}
	}
	for _, a := range []struct{ key, addr string }{{"https_addr", c.HTTPSAddr}, {"rtsps_addr", c.RTSPSAddr}} {
		if _, problem := checkAddr(a.addr, 0); problem != "" {
			bad(a.key, a.addr, problem, "host:port")
		}
	}
	switch c.TLS {
	case TLSFiles:
		if c.TLSCertFile == "" || c.TLSKeyFile == "" {
			bad("tls_cert_file", c.TLSCertFile, "tls: files needs a certificate and a key", "PEM files (and tls_key_file too)")
		}
	case TLSACME:
		if len(c.Domains()) == 0 {
			bad("tls_domains", "", "tls: acme needs the name to get a certificate for", "a name such as cams.example.com (or set public_host)")
		}
		if u, err := url.Parse(c.ACMEDirectory); err != nil || u.Scheme != "https" || u.Host == "" {
			bad("acme_directory", c.ACMEDirectory, "is not an https URL", "the CA's ACME directory URL")
		}
	}
	return nil
}
