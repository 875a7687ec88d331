package server

import (
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// The status codes that get their own code label value; any other is
// counted as "unknown", as promhttp's instrumentation does.
const (
	minCode = 100
	maxCode = 599
)

// requestCounter counts one route's requests by status code in
// observerd_http_requests_total. Each code's child counter is looked up
// once, on the first request answered with it, instead of hashing label
// values on every request. Children are still created only when first
// needed, so the registry exports just the codes seen so far.
type requestCounter struct {
	vec *prometheus.CounterVec // curried with the handler label
	// codes[code-minCode] is the child of code; the last one is "unknown".
	codes [maxCode - minCode + 2]atomic.Pointer[prometheus.Counter]
}

// inc counts one request answered with code; 0 means the handler wrote
// nothing, which net/http answers with 200.
func (c *requestCounter) inc(code int) {
	if code == 0 {
		code = http.StatusOK
	}
	i, label := len(c.codes)-1, "unknown"
	if code >= minCode && code <= maxCode {
		i, label = code-minCode, ""
	}
	if p := c.codes[i].Load(); p != nil {
		(*p).Inc()
		return
	}
	if label == "" {
		label = strconv.Itoa(code)
	}
	// Racing first requests get the same child from the vector.
	child := c.vec.WithLabelValues(label)
	c.codes[i].Store(&child)
	child.Inc()
}

// counted serves a request with serve, which returns the status code it
// wrote, and counts it.
type counted struct {
	c     *requestCounter
	serve func(http.ResponseWriter, *http.Request) int
}

func (h counted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.c.inc(h.serve(w, r))
}

// withStatus adapts a handler that does not report its status code: it
// records the code on the way through.
func withStatus(next http.Handler) func(http.ResponseWriter, *http.Request) int {
	return func(w http.ResponseWriter, r *http.Request) int {
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		return sw.code
	}
}

// statusWriter records the last status code written through it; a Write
// before any WriteHeader means 200.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap gives http.ResponseController the underlying writer, for Flush
// and deadlines.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
