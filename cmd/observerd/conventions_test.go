package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/observerd/observerd/internal/testenv"
)

// TestPprofOnItsOwnListener: the profiles are served only where
// OBSERVERD_PPROF_ADDR says, never beside /metrics.
func TestPprofOnItsOwnListener(t *testing.T) {
	r := testenv.StartRedis(t)
	pprofAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	d := startDaemon(t, "OBSERVERD_SOURCES=redis", "OBSERVERD_REDIS_URL="+r.URL, "OBSERVERD_PPROF_ADDR="+pprofAddr)
	d.waitReady(t, 15*time.Second)
	if code, _ := d.get(t, "/debug/pprof/"); code != http.StatusNotFound {
		t.Errorf("GET /debug/pprof/ on OBSERVERD_LISTEN_ADDR answered %d, want 404", code)
	}
	code, body := getURL(t, "http://"+pprofAddr+"/debug/pprof/goroutine?debug=1")
	if code != http.StatusOK || !strings.Contains(body, "goroutine profile:") {
		t.Errorf("GET /debug/pprof/goroutine on OBSERVERD_PPROF_ADDR answered %d: %.200s", code, body)
	}
	if code, _ := getURL(t, "http://"+pprofAddr+"/metrics"); code != http.StatusNotFound {
		t.Errorf("GET /metrics on OBSERVERD_PPROF_ADDR answered %d, want 404", code)
	}
}

// TestPprofOffByDefault: without OBSERVERD_PPROF_ADDR no profile is served.
func TestPprofOffByDefault(t *testing.T) {
	r := testenv.StartRedis(t)
	d := startDaemon(t, "OBSERVERD_SOURCES=redis", "OBSERVERD_REDIS_URL="+r.URL)
	d.waitReady(t, 15*time.Second)
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap"} {
		if code, _ := d.get(t, path); code != http.StatusNotFound {
			t.Errorf("GET %s answered %d, want 404", path, code)
		}
	}
}

// TestBuildInfo: observerd_build_info carries the labels of the Prometheus
// ecosystem's version collector.
func TestBuildInfo(t *testing.T) {
	r := testenv.StartRedis(t)
	d := startDaemon(t, "OBSERVERD_SOURCES=redis", "OBSERVERD_REDIS_URL="+r.URL)
	d.waitReady(t, 15*time.Second)
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(strings.NewReader(d.metrics(t)))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	f, ok := families["observerd_build_info"]
	if !ok || len(f.GetMetric()) != 1 {
		t.Fatalf("/metrics has no single observerd_build_info: %v", f)
	}
	got := map[string]string{}
	for _, l := range f.GetMetric()[0].GetLabel() {
		got[l.GetName()] = l.GetValue()
	}
	for _, name := range []string{"version", "revision", "branch", "goversion", "goos", "goarch", "tags"} {
		if _, ok := got[name]; !ok {
			t.Errorf("observerd_build_info lacks label %q: %v", name, got)
		}
	}
	if got["goversion"] == "" || got["goos"] == "" {
		t.Errorf("observerd_build_info = %v", got)
	}
}

func getURL(t *testing.T, url string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatalf("GET %s: read: %v", url, err)
	}
	return resp.StatusCode, string(b)
}
