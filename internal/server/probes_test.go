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

// TestProbesAnswerAsTheMainListener: the probe listener's /healthz and
// /readyz answer what the main listener's do, in every state, and are
// counted in the same series.
func TestProbesAnswerAsTheMainListener(t *testing.T) {
	s := snapshot.NewStore(snapshot.StoreConfig{Enabled: []string{source.Redis}})
	reg := prometheus.NewPedanticRegistry()
	var stuck error
	h := newTestHandler(t, s, func(c *Config) {
		c.Registry = reg
		c.Alive = func() error { return stuck }
	})
	compare := func(state string) {
		t.Helper()
		for _, path := range []string{"/healthz", "/readyz"} {
			main, probe := serve(h, http.MethodGet, path, nil), serve(h.Probes(), http.MethodGet, path, nil)
			if main.Code != probe.Code || main.Body.String() != probe.Body.String() {
				t.Errorf("%s, GET %s: the probe listener answered %d %q, the main one %d %q",
					state, path, probe.Code, probe.Body, main.Code, main.Body)
			}
		}
	}
	compare("before the first snapshot")
	now := time.Now()
	s.Update(snapshot.SourceState{Source: source.Redis, LastAttempt: now, LastSuccess: now, Section: &snapshot.RedisSection{}})
	compare("ready")
	stuck = errors.New("poll redis: stuck")
	compare("stuck")

	want := map[string]float64{
		"/healthz 200": 4,
		"/healthz 503": 2,
		"/readyz 503":  2,
		"/readyz 200":  4,
	}
	if diff := cmp.Diff(want, requestCounts(t, reg, "observerd_http_requests_total")); diff != "" {
		t.Errorf("observerd_http_requests_total (-want +got):\n%s", diff)
	}
}

// TestProbesServeNothingElse: the probe listener has no other route of
// the main listener, and no method but GET (and HEAD) on its own.
func TestProbesServeNothingElse(t *testing.T) {
	h := newTestHandler(t, publishedStore(t)).Probes()
	tests := []struct {
		give string
		want int
	}{
		{give: "/snapshot", want: http.StatusNotFound},
		{give: "/snapshot?at=-1m", want: http.StatusNotFound},
		{give: "/metrics", want: http.StatusNotFound},
		{give: "/events", want: http.StatusNotFound},
		{give: "/history", want: http.StatusNotFound},
		{give: "/keys/user-1", want: http.StatusNotFound},
		{give: "/", want: http.StatusNotFound},
		{give: "/debug/pprof/", want: http.StatusNotFound},
		{give: "/healthz/", want: http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			if got := serve(h, http.MethodGet, tt.give, nil).Code; got != tt.want {
				t.Errorf("GET %s on the probe listener answered %d, want %d", tt.give, got, tt.want)
			}
		})
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if got := serve(h, http.MethodPost, path, nil).Code; got != http.StatusMethodNotAllowed {
			t.Errorf("POST %s on the probe listener answered %d, want 405", path, got)
		}
		if got := serve(h, http.MethodHead, path, nil).Code; got != http.StatusOK {
			t.Errorf("HEAD %s on the probe listener answered %d, want 200", path, got)
		}
	}
}
