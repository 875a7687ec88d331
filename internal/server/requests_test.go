package server

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

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
