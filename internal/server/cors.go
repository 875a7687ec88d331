package server

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// corsPolicy says which browser origins may read /snapshot and /events:
// origins as a browser sends them in Origin, or "*" for any. Its zero value
// allows none and sends no CORS header.
type corsPolicy struct{ origins []string }

// newCORS returns the policy of OBSERVERD_CORS_ORIGINS.
func newCORS(origins []string) *corsPolicy {
	c := &corsPolicy{}
	for _, o := range origins {
		c.origins = append(c.origins, normalizeOrigin(o))
	}
	return c
}

// enabled reports whether any origin is allowed: every answer then varies
// with Origin.
func (c *corsPolicy) enabled() bool { return len(c.origins) > 0 }

// allow returns the Access-Control-Allow-Origin value for a request with
// header req, or "" when its Origin is not allowed or absent.
func (c *corsPolicy) allow(req http.Header) string {
	values := req["Origin"]
	switch {
	case len(values) != 1 || values[0] == "":
		return ""
	case slices.Contains(c.origins, "*"):
		return "*"
	case slices.Contains(c.origins, values[0]):
		return values[0]
	}
	return ""
}

// apply sets the CORS headers of a read of /snapshot or /events.
func (c *corsPolicy) apply(h, req http.Header) {
	if !c.enabled() {
		return
	}
	h.Add("Vary", "Origin")
	if origin := c.allow(req); origin != "" {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Expose-Headers", "ETag")
	}
}

// preflight answers OPTIONS: 204 with Allow, and with the CORS headers
// when an allowed origin asks to GET or HEAD. A refused origin gets no
// CORS header, which the browser takes as a no.
func (c *corsPolicy) preflight(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Allow", "GET, HEAD, OPTIONS")
	h.Set("Cache-Control", "no-cache")
	if c.enabled() {
		h["Vary"] = []string{"Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers"}
	}
	method := r.Header.Get("Access-Control-Request-Method")
	if origin := c.allow(r.Header); origin != "" && (method == http.MethodGet || method == http.MethodHead) {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Methods", "GET, HEAD")
		h.Set("Access-Control-Allow-Headers", "If-None-Match, Last-Event-ID, Cache-Control")
		h.Set("Access-Control-Max-Age", "3600")
	}
	w.WriteHeader(http.StatusNoContent)
}

// normalizeOrigin writes a configured origin as a browser sends it in
// Origin: scheme and host in lower case, no default port, no slash.
func normalizeOrigin(o string) string {
	u, err := url.Parse(strings.ToLower(o))
	if err != nil || u.Host == "" {
		return strings.TrimSuffix(o, "/")
	}
	if port := u.Port(); u.Scheme == "https" && port == "443" || u.Scheme == "http" && port == "80" {
		u.Host = strings.TrimSuffix(u.Host, ":"+port)
	}
	return u.Scheme + "://" + u.Host
}
