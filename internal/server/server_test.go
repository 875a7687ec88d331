package server

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zaptest"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

// newTestHandler returns the handler over store; each of with may change
// the Config first.
func newTestHandler(t *testing.T, store Loader, with ...func(*Config)) *Handler {
	t.Helper()
	cfg := Config{
		Store:       store,
		Registry:    prometheus.NewRegistry(),
		Enabled:     []string{source.Redis},
		CORSOrigins: []string{"https://dash.example"},
		Version:     "test",
		Logger:      zaptest.NewLogger(t),
	}
	for _, f := range with {
		f(&cfg)
	}
	h, err := NewHandler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func publishedStore(t *testing.T) *snapshot.Store {
	t.Helper()
	s := snapshot.NewStore(snapshot.StoreConfig{Enabled: []string{source.Redis}, DefaultLimit: 100, DefaultWindow: time.Minute, NodeForgetAfter: time.Minute})
	now := time.Now()
	s.Update(snapshot.SourceState{Source: source.Redis, LastAttempt: now, LastSuccess: now, Section: &snapshot.RedisSection{Info: snapshot.RedisInfo{Connected: true, Ping: snapshot.Known(ms(0.2))}}})
	return s
}

func get(t *testing.T, h http.Handler, path string, header map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func TestSnapshotBeforeFirst(t *testing.T) {
	s := snapshot.NewStore(snapshot.StoreConfig{Enabled: []string{source.Redis}})
	h := newTestHandler(t, s)
	resp := get(t, h, "/snapshot", nil)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status = %d, want 503", resp.StatusCode)
	}
	var body map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body["error"] == "" {
		t.Errorf("503 body = %v, %v; want a JSON error", body, err)
	}
	if resp := get(t, h, "/readyz", nil); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz = %d before any poll, want 503", resp.StatusCode)
	}
}

func TestSnapshotETagAndGzip(t *testing.T) {
	s := publishedStore(t)
	h := newTestHandler(t, s)
	p := s.Load()

	resp := get(t, h, "/snapshot", nil)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, p.JSON) {
		t.Fatalf("status %d body %q", resp.StatusCode, body)
	}
	etag := resp.Header.Get("ETag")
	if etag != p.ETag || !strings.HasPrefix(etag, `"`) || strings.HasPrefix(etag, "W/") {
		t.Errorf("ETag = %q, want the strong quoted %q", etag, p.ETag)
	}
	for k, want := range map[string]string{"Cache-Control": "no-cache", "Content-Type": "application/json"} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}

	tests := []struct {
		give string
		want int
	}{
		{give: etag, want: http.StatusNotModified},
		{give: `"other", ` + etag, want: http.StatusNotModified},
		{give: "W/" + etag, want: http.StatusNotModified},
		{give: "*", want: http.StatusNotModified},
		{give: `"0-0"`, want: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			resp := get(t, h, "/snapshot", map[string]string{"If-None-Match": tt.give})
			if resp.StatusCode != tt.want {
				t.Errorf("If-None-Match %s: status %d, want %d", tt.give, resp.StatusCode, tt.want)
			}
		})
	}

	// A new snapshot changes the ETag.
	now := time.Now()
	s.Update(snapshot.SourceState{Source: source.Redis, LastAttempt: now, LastSuccess: now, Section: &snapshot.RedisSection{}})
	if resp := get(t, h, "/snapshot", map[string]string{"If-None-Match": etag}); resp.StatusCode != http.StatusOK {
		t.Errorf("old ETag after a publish: status %d, want 200", resp.StatusCode)
	}

	resp = get(t, h, "/snapshot", map[string]string{"Accept-Encoding": "br, gzip;q=0.8"})
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding = %q, want gzip", resp.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	unzipped, _ := io.ReadAll(zr)
	if !bytes.Equal(unzipped, s.Load().JSON) {
		t.Error("gzip body differs from the JSON")
	}
	if resp := get(t, h, "/snapshot", map[string]string{"Accept-Encoding": "gzip;q=0"}); resp.Header.Get("Content-Encoding") != "" {
		t.Error("gzip sent though q=0")
	}
}

// snapshotAnswer is what a /snapshot client sees of an answer but its body.
type snapshotAnswer struct {
	Status          int
	Vary            string
	ETag            string
	CacheControl    string
	ContentType     string
	ContentEncoding string
	AllowOrigin     string
}

// TestSnapshotHeaders: every answer that depends on Accept-Encoding says
// so with Vary, 304 included, so that a shared cache never hands gzip to a
// client that did not ask for it, nor the reverse.
func TestSnapshotHeaders(t *testing.T) {
	s := publishedStore(t)
	h := newTestHandler(t, s)
	etag := s.Load().ETag
	tests := []struct {
		name string
		give map[string]string
		want snapshotAnswer
	}{
		{
			name: "200 plain",
			give: map[string]string{"Origin": "https://dash.example"},
			want: snapshotAnswer{Status: http.StatusOK, Vary: "Accept-Encoding, Origin", ETag: etag, CacheControl: "no-cache", ContentType: "application/json", AllowOrigin: "https://dash.example"},
		},
		{
			name: "200 gzip",
			give: map[string]string{"Accept-Encoding": "gzip", "Origin": "https://dash.example"},
			want: snapshotAnswer{Status: http.StatusOK, Vary: "Accept-Encoding, Origin", ETag: etag, CacheControl: "no-cache", ContentType: "application/json", ContentEncoding: "gzip", AllowOrigin: "https://dash.example"},
		},
		{
			name: "304",
			give: map[string]string{"If-None-Match": etag, "Origin": "https://dash.example"},
			want: snapshotAnswer{Status: http.StatusNotModified, Vary: "Accept-Encoding, Origin", ETag: etag, CacheControl: "no-cache", AllowOrigin: "https://dash.example"},
		},
		{
			name: "304 to a gzip client",
			give: map[string]string{"If-None-Match": etag, "Accept-Encoding": "gzip", "Origin": "https://dash.example"},
			want: snapshotAnswer{Status: http.StatusNotModified, Vary: "Accept-Encoding, Origin", ETag: etag, CacheControl: "no-cache", AllowOrigin: "https://dash.example"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := get(t, h, "/snapshot", tt.give)
			got := snapshotAnswer{
				Status:          resp.StatusCode,
				Vary:            strings.Join(resp.Header.Values("Vary"), ", "),
				ETag:            resp.Header.Get("ETag"),
				CacheControl:    resp.Header.Get("Cache-Control"),
				ContentType:     resp.Header.Get("Content-Type"),
				ContentEncoding: resp.Header.Get("Content-Encoding"),
				AllowOrigin:     resp.Header.Get("Access-Control-Allow-Origin"),
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("GET /snapshot with %v (-want +got):\n%s", tt.give, diff)
			}
		})
	}
}

// healthzAnswer is a /healthz answer.
type healthzAnswer struct {
	Status int
	Body   map[string]string
}

func TestHealthz(t *testing.T) {
	tests := []struct {
		name string
		give func() error
		want healthzAnswer
	}{
		{
			name: "no Alive",
			give: nil,
			want: healthzAnswer{Status: http.StatusOK, Body: map[string]string{"status": "ok"}},
		},
		{
			name: "alive",
			give: func() error { return nil },
			want: healthzAnswer{Status: http.StatusOK, Body: map[string]string{"status": "ok"}},
		},
		{
			name: "stuck",
			give: func() error { return errors.New("poll redis: no poll started or finished for 3m0s") },
			want: healthzAnswer{Status: http.StatusServiceUnavailable, Body: map[string]string{"status": "stuck", "error": "poll redis: no poll started or finished for 3m0s"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestHandler(t, publishedStore(t), func(c *Config) { c.Alive = tt.give })
			resp := get(t, h, "/healthz", nil)
			got := healthzAnswer{Status: resp.StatusCode}
			if err := json.NewDecoder(resp.Body).Decode(&got.Body); err != nil {
				t.Fatalf("decode the /healthz body: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("GET /healthz (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOtherRoutes(t *testing.T) {
	h := newTestHandler(t, publishedStore(t))
	tests := []struct {
		give     string
		want     int
		contains string
	}{
		{give: "/healthz", want: 200, contains: "ok"},
		{give: "/readyz", want: 200, contains: "ready"},
		{give: "/", want: 200, contains: `href="snapshot"`},
		{give: "/metrics", want: 200, contains: "observerd_http_requests_total"},
		{give: "/nothing", want: 404},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			get(t, h, tt.give, nil) // so that /metrics has counted something
			resp := get(t, h, tt.give, nil)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.want || !strings.Contains(string(body), tt.contains) {
				t.Errorf("GET %s = %d %q, want %d containing %q", tt.give, resp.StatusCode, body, tt.want, tt.contains)
			}
		})
	}
	req := httptest.NewRequest(http.MethodPost, "/snapshot", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /snapshot = %d, want 405", rec.Code)
	}
}

// ms is f milliseconds.
func ms(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }
