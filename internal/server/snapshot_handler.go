package server

import (
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

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

// snapshotHandler serves the pre-serialized snapshot: ETag and 304, gzip
// when the client takes it, and no caching without revalidation. A
// request without a query takes the shortest path; the query asks for
// sections (see selections) or a long-poll (see longPoll).
type snapshotHandler struct {
	store Loader
	cors  corsPolicy
	vary  []string // Vary of every answer
	// plain serves a request without a query, held to busy.
	plain   func(http.ResponseWriter, *http.Request) int
	busy    busyLimit
	waiting *waitLimit
	gauge   prometheus.Gauge // long-polls waiting now
	fields  *snapshotFields
	sel     *selections
	maxWait time.Duration
	logger  *zap.Logger
	// whole is the answer of the last snapshot served whole, built on
	// the first request that sees it rather than on every request.
	whole atomic.Pointer[answer]
}

// serve answers one request and returns the status code it wrote, for
// the request counter.
func (s *snapshotHandler) serve(w http.ResponseWriter, r *http.Request) int {
	if r.URL.RawQuery == "" {
		return s.plain(w, r)
	}
	return s.serveQuery(w, r)
}

// begin sets the headers every answer carries.
func (s *snapshotHandler) begin(h, req http.Header) {
	s.cors.apply(h, req)
	h["Cache-Control"] = noCacheValue
	h["Vary"] = s.vary
}

// serveWhole answers the whole current snapshot.
func (s *snapshotHandler) serveWhole(w http.ResponseWriter, r *http.Request) int {
	s.begin(w.Header(), r.Header)
	p := s.store.Load()
	if p == nil {
		return noSnapshot(w)
	}
	return s.write(w, r, s.wholeAnswer(p))
}

// serveQuery answers a request with sections or a long-poll.
func (s *snapshotHandler) serveQuery(w http.ResponseWriter, r *http.Request) int {
	s.begin(w.Header(), r.Header)
	q, err := parseQuery(r.URL.RawQuery, s.fields, true, s.maxWait)
	if err != nil {
		return writeParamError(w, err)
	}
	if q.poll {
		if p := s.store.Load(); p == nil || p.Snapshot.Sequence == q.after {
			return s.longPoll(w, r, q)
		}
	}
	if !s.busy.enter() {
		return refuse(w, s.busy.body)
	}
	defer s.busy.leave()
	return s.answer(w, r, s.store.Load(), q.sel)
}

// answer writes sel of p, or 503 while there is no snapshot yet.
func (s *snapshotHandler) answer(w http.ResponseWriter, r *http.Request, p *snapshot.Published, sel selection) int {
	if p == nil {
		return noSnapshot(w)
	}
	if sel == 0 {
		return s.write(w, r, s.wholeAnswer(p))
	}
	a, err := s.sel.get(p, sel)
	if err != nil {
		// Encoding our own types cannot fail short of a bug.
		s.logger.Error("encode snapshot sections", zap.Error(err))
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return http.StatusInternalServerError
	}
	return s.write(w, r, a)
}

// wholeAnswer returns the answer of the whole of p. Two requests racing
// on a new snapshot may both build it; either result is right.
func (s *snapshotHandler) wholeAnswer(p *snapshot.Published) *answer {
	if c := s.whole.Load(); c != nil && c.p == p {
		return c
	}
	c := newAnswer(p, p.ETag, p.JSON, p.Gzip)
	s.whole.Store(c)
	return c
}

// write sends a: 304 when the client has it, else its body, compressed
// when the client takes gzip.
func (s *snapshotHandler) write(w http.ResponseWriter, r *http.Request, a *answer) int {
	h := w.Header()
	// "Etag" is the canonical form of ETag, the key Header.Get looks up.
	h["Etag"] = a.etag
	if etagMatches(r.Header["If-None-Match"], a.etag[0]) {
		w.WriteHeader(http.StatusNotModified)
		return http.StatusNotModified
	}
	h["Content-Type"] = jsonValue
	body, length := a.json, a.plainLen
	if acceptsGzip(r.Header["Accept-Encoding"]) {
		h["Content-Encoding"] = gzipValue
		body, length = a.gzip, a.gzipLen
	}
	h["Content-Length"] = length
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
	return http.StatusOK
}

// noSnapshot answers a request before the first snapshot.
func noSnapshot(w http.ResponseWriter) int {
	writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "no snapshot yet: no source has finished its first poll"})
	return http.StatusServiceUnavailable
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
