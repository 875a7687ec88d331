package server

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

// requestCounts gathers reg's observerd_http_requests_total, as
// "handler code" to value.
func requestCounts(t *testing.T, reg prometheus.Gatherer, name string) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			out[labels["handler"]+" "+labels["code"]] = m.GetCounter().GetValue()
		}
	}
	return out
}

// TestRequestsCounted: every request a route answers is counted once under
// its handler and status code, and no series exists for a code never
// answered; requests no route answers are not counted.
func TestRequestsCounted(t *testing.T) {
	s := snapshot.NewStore(snapshot.StoreConfig{Enabled: []string{source.Redis}})
	reg := prometheus.NewPedanticRegistry()
	var stuck error
	h := newTestHandler(t, s, func(c *Config) {
		c.Registry = reg
		c.Alive = func() error { return stuck }
	})
	serve(h, http.MethodGet, "/snapshot", nil)
	now := time.Now()
	s.Update(snapshot.SourceState{Source: source.Redis, LastAttempt: now, LastSuccess: now, Section: &snapshot.RedisSection{}})
	etag := s.Load().ETag
	serve(h, http.MethodGet, "/snapshot", nil)
	serve(h, http.MethodGet, "/snapshot", map[string]string{"Accept-Encoding": "gzip"})
	serve(h, http.MethodHead, "/snapshot", nil)
	serve(h, http.MethodGet, "/snapshot", map[string]string{"If-None-Match": etag})
	serve(h, http.MethodGet, "/%73napshot", nil) // through the mux
	serve(h, http.MethodGet, "/healthz", nil)
	stuck = errors.New("poll redis: stuck")
	serve(h, http.MethodGet, "/healthz", nil)
	serve(h, http.MethodGet, "/readyz", nil)
	serve(h, http.MethodGet, "/", nil)
	serve(h, http.MethodGet, "/metrics", nil)
	serve(h, http.MethodGet, "/nothing", nil)
	serve(h, http.MethodPost, "/snapshot", nil)
	serve(h, http.MethodGet, "//snapshot", nil)

	want := map[string]float64{
		"/snapshot 503": 1,
		"/snapshot 200": 4,
		"/snapshot 304": 1,
		"/healthz 200":  1,
		"/healthz 503":  1,
		"/readyz 200":   1,
		"/ 200":         1,
		"/metrics 200":  1,
	}
	if diff := cmp.Diff(want, requestCounts(t, reg, "observerd_http_requests_total")); diff != "" {
		t.Errorf("observerd_http_requests_total (-want +got):\n%s", diff)
	}
}

// TestCountedAsPromhttp: for handlers that write their status every which
// way, the counter records what promhttp's instrumentation records.
func TestCountedAsPromhttp(t *testing.T) {
	handlers := map[string]http.HandlerFunc{
		"nothing":       func(http.ResponseWriter, *http.Request) {},
		"write":         func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("x")) },
		"204":           func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) },
		"404 then body": func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) },
		"twice": func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusCreated)
			w.WriteHeader(http.StatusAccepted)
		},
		"unlisted 299": func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(299) },
		"out of range": func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(777) },
		"also out":     func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(600) },
	}
	opts := prometheus.CounterOpts{Name: "requests_total", Help: "Requests."}
	theirs := prometheus.NewCounterVec(opts, []string{"handler", "code"})
	ours := prometheus.NewCounterVec(opts, []string{"handler", "code"})
	theirReg, ourReg := prometheus.NewPedanticRegistry(), prometheus.NewPedanticRegistry()
	theirReg.MustRegister(theirs)
	ourReg.MustRegister(ours)
	for name, h := range handlers {
		label := prometheus.Labels{"handler": name}
		a := promhttp.InstrumentHandlerCounter(theirs.MustCurryWith(label), h)
		b := counted{c: &requestCounter{vec: ours.MustCurryWith(label)}, serve: withStatus(h)}
		for range 3 {
			serve(a, http.MethodGet, "/", nil)
			serve(b, http.MethodGet, "/", nil)
		}
	}
	want := requestCounts(t, theirReg, "requests_total")
	if diff := cmp.Diff(want, requestCounts(t, ourReg, "requests_total")); diff != "" {
		t.Errorf("counts (-promhttp +ours):\n%s", diff)
	}
	if len(want) != len(handlers) {
		t.Errorf("promhttp counted %d series, want one per handler: %v", len(want), want)
	}
}
