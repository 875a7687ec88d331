// Package transport makes the HTTP transports observerd asks its peers
// through: private to one client, with the response headers bounded and
// TLS as configured.
package transport

import (
	"crypto/tls"
	"net/http"
)

// DefaultMaxHeaderBytes bounds a response's headers when the caller gives
// no bound. A rate limiter node and Prometheus send a handful of short
// headers; Go's own default of 10 MiB would let a confused peer or proxy
// cost that much per request.
const DefaultMaxHeaderBytes = 64 << 10

// New returns a transport of its own, so that closing its idle
// connections touches no other client, reading at most maxHeaderBytes of
// response headers (DefaultMaxHeaderBytes when 0), and using a copy of
// tlsConfig when it is not nil (the system's roots otherwise).
func New(maxHeaderBytes int64, tlsConfig *tls.Config) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxResponseHeaderBytes = maxHeaderBytes
	if t.MaxResponseHeaderBytes == 0 {
		t.MaxResponseHeaderBytes = DefaultMaxHeaderBytes
	}
	if tlsConfig != nil {
		// A copy: the caller may reuse its config, and the transport sets
		// fields of the one it holds.
		t.TLSClientConfig = tlsConfig.Clone()
	}
	return t
}
