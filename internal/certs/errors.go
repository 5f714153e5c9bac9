package certs

import "errors"

// ErrNoCertificate means the files mode could not load a certificate.
var ErrNoCertificate = errors.New("no usable certificate")
