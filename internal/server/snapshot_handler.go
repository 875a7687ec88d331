package server

import (
	"cmp"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/observerd/observerd/internal/history"
	"github.com/observerd/observerd/internal/snapshot"
)

// statusClientClosed is the code counted for a long-poll whose client
// left before its answer, as nginx logs it; nobody reads it.
const statusClientClosed = 499

// reads serves the published snapshot to its readers: on /snapshot whole
// or a selection of its sections, at once or as soon as one newer than the
// client's is published (a long-poll), and on /events as a stream.
type reads struct {
	store     Loader
	hist      *history.Store
	now       func() time.Time
	gz        snapshot.Gzipper // of the selections of summaries
	cors      *corsPolicy
	sel       *selector
	busy      *bound           // answers under way
	held      *bound           // long-polls and /events streams
	polls     prometheus.Gauge // long-polls waiting now
	streams   prometheus.Gauge // /events streams open now
	maxWait   time.Duration
	heartbeat time.Duration
}

// answer is one body observerd serves, plain and compressed, with its
// ETag: the whole published snapshot, a selection of its sections, a kept
// summary or range, or one key explained.
type answer struct {
	etag string // "": none, and no 304
	json []byte // the body: JSON, unless contentType says otherwise
	gzip []byte
	// contentType is the body's type; "": application/json.
	contentType string
}

// snapshot answers /snapshot: ETag and 304, gzip when the client takes it,
// and no caching without revalidation.
func (s *reads) snapshot(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-cache")
	h.Set("Vary", "Accept-Encoding")
	s.cors.apply(h, r.Header)
	q, err := parseQuery(r.URL.RawQuery, s.sel, true, s.maxWait)
	if err != nil {
		err.write(w)
		return
	}
	if q.hasAt {
		s.snapshotAt(w, r, q)
		return
	}
	if q.poll {
		if p := s.store.Load(); p == nil || p.Snapshot.Sequence == q.after {
			s.longPoll(w, r, q)
			return
		}
	}
	if s.busy.take(w) {
		defer s.busy.release()
		s.answer(w, r, s.store.Load(), q.sel)
	}
}

// longPoll answers as soon as a snapshot other than number q.after is
// current, or at the end of the wait (or of the server) with the current
// one. It holds a slot of held for its whole life, none of busy: a
// publish wakes every waiting client at once, and a bound on answers
// under way would refuse most of them.
func (s *reads) longPoll(w http.ResponseWriter, r *http.Request, q snapshotQuery) {
	if !s.held.take(w) {
		return
	}
	defer s.held.release()
	s.polls.Inc()
	defer s.polls.Dec()
	// See writeTimeout; net/http lifts the read deadline once the request
	// is read. A test recorder has no deadline to extend.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(q.wait + writeTimeout))
	p := newer(r.Context(), s.store, q.after, q.wait)
	if r.Context().Err() != nil {
		w.WriteHeader(statusClientClosed)
		return
	}
	s.answer(w, r, p, q.sel)
}

// answer writes sel of p, or 503 while there is no snapshot yet.
func (s *reads) answer(w http.ResponseWriter, r *http.Request, p *snapshot.Published, sel selection) {
	if p == nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "no snapshot yet: no source has finished its first poll"})
		return
	}
	writeAnswer(w, r, s.sel.get(p, sel))
}

// writeAnswer writes a: 304 when the client has its ETag, gzip when it
// takes it.
func writeAnswer(w http.ResponseWriter, r *http.Request, a *answer) {
	h := w.Header()
	if a.etag != "" {
		h.Set("ETag", a.etag)
		if etagMatches(r.Header["If-None-Match"], a.etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	h.Set("Content-Type", cmp.Or(a.contentType, "application/json"))
	body := a.json
	if acceptsGzip(r.Header["Accept-Encoding"]) {
		h.Set("Content-Encoding", "gzip")
		body = a.gzip
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// etagMatches implements If-None-Match's weak comparison over a list of
// tags, or "*". A header sent on several lines is one list.
func etagMatches(values []string, etag string) bool {
	for _, v := range values {
		for tag := range strings.SplitSeq(v, ",") {
			if tag = strings.TrimSpace(tag); tag == "*" || strings.TrimPrefix(tag, "W/") == etag {
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
		for part := range strings.SplitSeq(v, ",") {
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
