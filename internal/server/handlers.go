package server

import (
	"encoding/json"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/observerd/observerd/internal/snapshot"
)

// defaultMetricsTimeout bounds one /metrics answer; the collector only
// reads memory, so this is far more than it needs.
const defaultMetricsTimeout = 10 * time.Second

// handleSnapshot serves the pre-serialized snapshot: ETag and 304, gzip
// when the client takes it, and no caching without revalidation.
func handleSnapshot(store Loader, corsOrigin string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if corsOrigin != "" {
			h.Set("Access-Control-Allow-Origin", corsOrigin)
			h.Set("Access-Control-Expose-Headers", "ETag")
		}
		h.Set("Cache-Control", "no-cache")
		p := store.Load()
		if p == nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "no snapshot yet: no source has finished its first poll"})
			return
		}
		h.Set("ETag", p.ETag)
		h.Set("Vary", "Accept-Encoding")
		if etagMatches(r.Header.Get("If-None-Match"), p.ETag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h.Set("Content-Type", "application/json")
		body := p.JSON
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			h.Set("Content-Encoding", "gzip")
			body = p.Gzip
		}
		h.Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			_, _ = w.Write(body)
		}
	})
}

// etagMatches implements If-None-Match's weak comparison over a list of
// tags, or "*".
func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	for _, tag := range strings.Split(header, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" || strings.TrimPrefix(tag, "W/") == etag {
			return true
		}
	}
	return false
}

// acceptsGzip reports whether Accept-Encoding admits gzip with a non-zero
// quality.
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		q, found := strings.CutPrefix(strings.TrimSpace(params), "q=")
		if !found {
			return true
		}
		v, err := strconv.ParseFloat(q, 64)
		return err == nil && v > 0
	}
	return false
}

// handleHealthz answers 200 while observerd serves and its pollers make
// progress, and 503 with the reason once one of them is stuck, so that an
// orchestrator restarts a stuck observerd.
func handleHealthz(alive func() error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if alive != nil {
			if err := alive(); err != nil {
				writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "stuck", "error": err.Error()})
				return
			}
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// handleReadyz answers 200 once every enabled source has succeeded at
// least once, else 503 naming the sources that have not.
func handleReadyz(store Loader, enabled []string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		notReady := make(map[string]string)
		p := store.Load()
		for _, name := range enabled {
			if p == nil {
				notReady[name] = snapshot.StatusPending
				continue
			}
			st := p.Snapshot.Sources[name]
			if st.LastSuccess == nil {
				reason := st.Status
				if st.Error != "" {
					reason += ": " + st.Error
				}
				notReady[name] = reason
			}
		}
		if len(notReady) > 0 {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "not_ready": notReady})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
}

var indexPage = template.Must(template.New("index").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>observerd</title></head>
<body><h1>observerd {{.}}</h1>
<p>Watches a Redis-backed rate limiter cluster.</p>
<ul>
<li><a href="snapshot">/snapshot</a>: the current snapshot as JSON</li>
<li><a href="metrics">/metrics</a>: the snapshot as Prometheus metrics</li>
<li><a href="readyz">/readyz</a>: 200 once every source has answered</li>
<li><a href="healthz">/healthz</a>: 200 while observerd serves</li>
</ul></body></html>
`))

func handleIndex(version string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = indexPage.Execute(w, version)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
