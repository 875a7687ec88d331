package server

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/observerd/observerd/internal/explain"
	"github.com/observerd/observerd/internal/names"
	"github.com/observerd/observerd/internal/snapshot"
)

// fakeExplain explains every key as count 1 and records the keys asked.
func fakeExplain(asked *[]string) ExplainFunc {
	return func(ctx context.Context, key string) (*explain.Explanation, error) {
		*asked = append(*asked, key)
		switch key {
		case "down":
			return nil, errors.New("redis ZCARD 127.0.0.1:1: connection refused")
		case "str":
			return nil, fmt.Errorf("redis key %q: %w", key, explain.ErrWrongType)
		}
		if _, ok := ctx.Deadline(); !ok {
			return nil, errors.New("no deadline")
		}
		return &explain.Explanation{
			Key: names.Clean(key, 256), Count: 1, Limit: 2, LimitSource: explain.SourceDefault, AllowedNext: true,
			At:      time.Now(),
			Spread:  []explain.Bucket{{FromMs: -1000, ToMs: 0, Entries: 1}},
			Nodes:   []explain.NodeView{{Node: "node-<1>", Note: explain.NotShownByNode}},
			History: []snapshot.KeyEvent{{State: snapshot.KeyBlocked, Detail: "<script>"}},
			Notes:   []string{},
		}, nil
	}
}

func TestKeys(t *testing.T) {
	var asked []string
	h := newTestHandler(t, publishedStore(t), func(c *Config) { c.Explain = fakeExplain(&asked) })
	tests := []struct {
		give     string // path after /keys/
		wantCode int
		wantKey  string
	}{
		{give: "user:1", wantCode: http.StatusOK, wantKey: "user:1"},
		{give: url.PathEscape("a/../b c"), wantCode: http.StatusOK, wantKey: "a/../b c"},
		{give: url.PathEscape(`bin\xff\xfe`), wantCode: http.StatusOK, wantKey: "bin\xff\xfe"},
		{give: url.PathEscape(names.Clean(strings.Repeat("k", 400), 256)), wantCode: http.StatusBadRequest},
		{give: strings.Repeat("k", explain.MaxKeyBytes+1), wantCode: http.StatusBadRequest},
		{give: "", wantCode: http.StatusBadRequest},
		{give: "down", wantCode: http.StatusServiceUnavailable, wantKey: "down"},
		{give: "str", wantCode: http.StatusConflict, wantKey: "str"},
	}
	for _, tt := range tests {
		t.Run(tt.give[:min(len(tt.give), 40)], func(t *testing.T) {
			asked = nil
			resp := get(t, h, "/keys/"+tt.give, nil)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantCode {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, body, tt.wantCode)
			}
			if tt.wantKey != "" && (len(asked) != 1 || asked[0] != tt.wantKey) {
				t.Errorf("explained %q, want %q", asked, tt.wantKey)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want JSON", ct)
			}
			if resp.Header.Get("Cache-Control") != "no-cache" {
				t.Errorf("Cache-Control %q, want no-cache", resp.Header.Get("Cache-Control"))
			}
			if tt.wantCode != http.StatusOK {
				var e map[string]string
				if err := json.Unmarshal(body, &e); err != nil || e["error"] == "" {
					t.Errorf("error body %s, want {\"error\": ...}", body)
				}
			}
		})
	}
}

func TestKeysNegotiates(t *testing.T) {
	var asked []string
	h := newTestHandler(t, publishedStore(t), func(c *Config) { c.Explain = fakeExplain(&asked) })
	browser := "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	resp := get(t, h, "/keys/user:1", map[string]string{"Accept": browser, "Origin": "https://dash.example"})
	body, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("Content-Type %q for a browser, want HTML", ct)
	}
	if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("CSP %q", resp.Header.Get("Content-Security-Policy"))
	}
	if resp.Header.Get("Access-Control-Allow-Origin") != "https://dash.example" {
		t.Errorf("no CORS header for an allowed origin")
	}
	if s := string(body); strings.Contains(s, "<script>") || !strings.Contains(s, "&lt;script&gt;") || !strings.Contains(s, `href="/"`) {
		t.Errorf("page does not escape peer text or lacks the link back:\n%s", s)
	}
	resp = get(t, h, "/keys/user:1", map[string]string{"Accept": "*/*", "Accept-Encoding": "gzip"})
	if resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("headers %v, want gzipped JSON", resp.Header)
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var x explain.Explanation
	if err := json.NewDecoder(zr).Decode(&x); err != nil || x.Key != "user:1" {
		t.Errorf("decoded %+v, %v", x, err)
	}
}

func TestKeysWithoutExplain(t *testing.T) {
	h := newTestHandler(t, publishedStore(t))
	if resp := get(t, h, "/keys/user:1", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("status %d, want 404 without an explainer", resp.StatusCode)
	}
}

func TestPrefersHTML(t *testing.T) {
	tests := []struct {
		give string
		want bool
	}{
		{give: "", want: false},
		{give: "*/*", want: false},
		{give: "application/json", want: false},
		{give: "text/html", want: true},
		{give: "text/html;q=0.5, application/json", want: false},
		{give: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", want: true},
		{give: "text/html;q=0", want: false},
	}
	for _, tt := range tests {
		if got := prefersHTML([]string{tt.give}); got != tt.want {
			t.Errorf("prefersHTML(%q) = %v, want %v", tt.give, got, tt.want)
		}
	}
}

// TestKeyPageRendersEveryFigure renders explanations whose optional
// figures are set, as a real key's are: a TTL, a retry time, a TTL that
// fits or outlives the window, and one without any.
func TestKeyPageRendersEveryFigure(t *testing.T) {
	p := newKeyPage()
	ttl, retry, service, seq := int64(39_946), int64(37_521), int64(38), int64(174)
	noTTL := int64(-1)
	at := time.Date(2026, 12, 5, 9, 34, 3, 0, time.UTC)
	retryAt := at.Add(37521 * time.Millisecond)
	base := explain.Explanation{Key: "user-hot-0", Exists: true, At: at, Count: 10, Limit: 10, LimitSource: "default", WindowMs: 60_000,
		AllowedNext: false, RetryAfterMs: &retry, RetryAt: &retryAt, ServiceRetryAfterSeconds: &service, AllowedTotal: &seq}
	tests := []struct {
		name  string
		ttl   *int64
		fits  *bool
		want  []string
		never []string
	}{
		{name: "fits", ttl: &ttl, fits: new(true), want: []string{"39.946s", "(fits the window)", "in 37.521s", "retry after 38 s", "174"}, never: []string{"outlives"}},
		{name: "outlives", ttl: &ttl, fits: new(false), want: []string{"39.946s", "outlives the window"}, never: []string{"fits the window"}},
		{name: "no TTL", ttl: &noTTL, fits: new(false), want: []string{"none", "outlives the window"}},
		{name: "no key", want: []string{"<td>–</td>"}, never: []string{"window)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := base
			x.TTLMs, x.TTLFitsWindow = tt.ttl, tt.fits
			b, err := p.render(&x)
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(b), w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, n := range tt.never {
				if strings.Contains(string(b), n) {
					t.Errorf("page says %q", n)
				}
			}
		})
	}
}
