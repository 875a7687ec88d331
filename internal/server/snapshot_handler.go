package server

import (
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/observerd/observerd/internal/snapshot"
)

// Header values /snapshot sends. They are assigned straight into the
// header map under keys already in canonical form, so that an answer
// neither canonicalizes a key nor allocates a value. Every slice has as
// much capacity as length, so a later Header.Add copies it rather than
// writing into the shared array; nothing may change their elements.
var (
	noCacheValue    = []string{"no-cache"}
	varyValue       = []string{"Accept-Encoding"}
	jsonValue       = []string{"application/json"}
	gzipValue       = []string{"gzip"}
	exposeETagValue = []string{"ETag"}
)

// snapshotHeaders holds the header values that depend on one published
// snapshot, built on the first request that sees it rather than on every
// request.
type snapshotHeaders struct {
	p        *snapshot.Published
	etag     []string
	plainLen []string // Content-Length of p.JSON
	gzipLen  []string // Content-Length of p.Gzip
}

// snapshotHandler serves the pre-serialized snapshot: ETag and 304, gzip
// when the client takes it, and no caching without revalidation.
type snapshotHandler struct {
	store Loader
	// allowOrigin is the Access-Control-Allow-Origin value; nil sends no
	// CORS headers.
	allowOrigin []string
	cur         atomic.Pointer[snapshotHeaders]
}

func newSnapshotHandler(store Loader, corsOrigins []string) *snapshotHandler {
	s := &snapshotHandler{store: store}
	if len(corsOrigins) > 0 {
		s.allowOrigin = []string{corsOrigins[0]}
	}
	return s
}

// headers returns the header values of p. Two requests racing on a new
// snapshot may both build them; either result is right.
func (s *snapshotHandler) headers(p *snapshot.Published) *snapshotHeaders {
	if c := s.cur.Load(); c != nil && c.p == p {
		return c
	}
	c := &snapshotHeaders{
		p:        p,
		etag:     []string{p.ETag},
		plainLen: []string{strconv.Itoa(len(p.JSON))},
		gzipLen:  []string{strconv.Itoa(len(p.Gzip))},
	}
	s.cur.Store(c)
	return c
}

// serve answers one request and returns the status code it wrote, for
// the request counter.
func (s *snapshotHandler) serve(w http.ResponseWriter, r *http.Request) int {
	h := w.Header()
	if s.allowOrigin != nil {
		h["Access-Control-Allow-Origin"] = s.allowOrigin
		h["Access-Control-Expose-Headers"] = exposeETagValue
	}
	h["Cache-Control"] = noCacheValue
	p := s.store.Load()
	if p == nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "no snapshot yet: no source has finished its first poll"})
		return http.StatusServiceUnavailable
	}
	c := s.headers(p)
	// "Etag" is the canonical form of ETag, the key Header.Get looks up.
	h["Etag"] = c.etag
	h["Vary"] = varyValue
	if etagMatches(r.Header["If-None-Match"], p.ETag) {
		w.WriteHeader(http.StatusNotModified)
		return http.StatusNotModified
	}
	h["Content-Type"] = jsonValue
	body, length := p.JSON, c.plainLen
	if acceptsGzip(r.Header["Accept-Encoding"]) {
		h["Content-Encoding"] = gzipValue
		body, length = p.Gzip, c.gzipLen
	}
	h["Content-Length"] = length
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
	return http.StatusOK
}

// etagMatches implements If-None-Match's weak comparison over a list of
// tags, or "*". A header sent on several lines is one list.
func etagMatches(values []string, etag string) bool {
	for _, v := range values {
		for v != "" {
			var tag string
			tag, v, _ = strings.Cut(v, ",")
			tag = strings.TrimSpace(tag)
			if tag == "*" || strings.TrimPrefix(tag, "W/") == etag {
				return true
			}
		}
	}
	return false
}

// acceptsGzip reports whether Accept-Encoding admits gzip with a non-zero
// quality. The first mention of gzip decides.
func acceptsGzip(values []string) bool {
	for _, v := range values {
		for v != "" {
			var part string
			part, v, _ = strings.Cut(v, ",")
			coding, params, _ := strings.Cut(part, ";")
			if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
				continue
			}
			q, found := strings.CutPrefix(strings.TrimSpace(params), "q=")
			if !found {
				return true
			}
			f, err := strconv.ParseFloat(q, 64)
			return err == nil && f > 0
		}
	}
	return false
}
