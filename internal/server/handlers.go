package server

import (
	"encoding/json"
	"html/template"
	"net/http"
	"time"

	"github.com/observerd/observerd/internal/snapshot"
)

// defaultMetricsTimeout bounds one /metrics answer; the collector only
// reads memory, so this is far more than it needs.
const defaultMetricsTimeout = 10 * time.Second

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
<li><a href="history">/history</a>: the kept summaries of the last hour (<a href="snapshot?at=-10m">/snapshot?at=-10m</a>: ten minutes ago)</li>
<li><a href="events">/events</a>: each new snapshot as a Server-Sent Event</li>
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
