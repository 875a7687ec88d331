package server

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// CORS header values, shared between answers like the other header values
// (see snapshot_handler.go): capacity equal to length, never changed.
var (
	anyOriginValue     = []string{"*"}
	varyOriginValue    = []string{"Accept-Encoding", "Origin"}
	allowValue         = []string{"GET, HEAD, OPTIONS"}
	allowMethodsValue  = []string{"GET, HEAD"}
	allowHeadersValue  = []string{"If-None-Match, Last-Event-ID, Cache-Control"}
	preflightMaxAge    = []string{"3600"}
	preflightVaryValue = []string{"Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers"}
)

// corsPolicy says which browser origins may read /snapshot and /events.
// Its zero value allows none and sends no CORS header.
type corsPolicy struct {
	anyOrigin bool
	// origins are the allowed origins, each with its own header value so
	// that an answer allocates none.
	origins []allowedOrigin
}

type allowedOrigin struct {
	origin string
	value  []string
}

// newCORS returns the policy of OBSERVERD_CORS_ORIGINS: validated origins,
// or "*" for any.
func newCORS(origins []string) corsPolicy {
	var c corsPolicy
	for _, o := range origins {
		if o == "*" {
			c.anyOrigin = true
			continue
		}
		n := normalizeOrigin(o)
		c.origins = append(c.origins, allowedOrigin{origin: n, value: []string{n}})
	}
	return c
}

// enabled reports whether any origin is allowed: every answer then varies
// with Origin.
func (c *corsPolicy) enabled() bool { return c.anyOrigin || len(c.origins) > 0 }

// allow returns the Access-Control-Allow-Origin value for a request with
// header req, or nil when its Origin is not allowed or absent.
func (c *corsPolicy) allow(req http.Header) []string {
	values := req["Origin"]
	if len(values) != 1 || values[0] == "" {
		return nil
	}
	if c.anyOrigin {
		return anyOriginValue
	}
	for i := range c.origins {
		if c.origins[i].origin == values[0] {
			return c.origins[i].value
		}
	}
	return nil
}

// apply sets the CORS headers of a read of /snapshot or /events.
func (c *corsPolicy) apply(h, req http.Header) {
	if !c.enabled() {
		return // most deployments: no header to look up
	}
	if v := c.allow(req); v != nil {
		h["Access-Control-Allow-Origin"] = v
		h["Access-Control-Expose-Headers"] = exposeETagValue
	}
}

// preflight answers OPTIONS: 204 with Allow, and with the CORS headers
// when an allowed origin asks to GET or HEAD. A refused origin gets no
// CORS header, which the browser takes as a no.
func (c *corsPolicy) preflight(w http.ResponseWriter, r *http.Request) int {
	h := w.Header()
	h["Allow"] = allowValue
	h["Cache-Control"] = noCacheValue
	if c.enabled() {
		h["Vary"] = preflightVaryValue
	}
	method := r.Header.Get("Access-Control-Request-Method")
	if v := c.allow(r.Header); v != nil && (method == http.MethodGet || method == http.MethodHead) {
		h["Access-Control-Allow-Origin"] = v
		h["Access-Control-Allow-Methods"] = allowMethodsValue
		h["Access-Control-Allow-Headers"] = allowHeadersValue
		h["Access-Control-Max-Age"] = preflightMaxAge
	}
	w.WriteHeader(http.StatusNoContent)
	return http.StatusNoContent
}

// normalizeOrigin writes a configured origin as a browser sends it in
// Origin: scheme and host in lower case, no default port, no slash.
func normalizeOrigin(o string) string {
	u, err := url.Parse(o)
	if err != nil || u.Host == "" {
		return strings.TrimSuffix(o, "/")
	}
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Host)
	if h, port, err := net.SplitHostPort(host); err == nil && (scheme == "https" && port == "443" || scheme == "http" && port == "80") {
		host = h
		if strings.Contains(h, ":") {
			host = "[" + h + "]"
		}
	}
	return scheme + "://" + host
}
