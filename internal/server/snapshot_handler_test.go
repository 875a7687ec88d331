package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

// serve answers one request with method and header on h.
func serve(h http.Handler, method, target string, header map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestSnapshotHeaderMap checks every header of each kind of answer, keys
// included: they are set without canonicalization, so a key in the wrong
// case would be invisible to Header.Get.
func TestSnapshotHeaderMap(t *testing.T) {
	s := publishedStore(t)
	p := s.Load()
	cors := newTestHandler(t, s)
	plain := newTestHandler(t, s, func(c *Config) { c.CORSOrigins = nil })
	empty := newTestHandler(t, snapshot.NewStore(snapshot.StoreConfig{Enabled: []string{source.Redis}}))
	tests := []struct {
		name   string
		h      http.Handler
		method string
		give   map[string]string
		want   http.Header
	}{
		{
			name: "200 gzip with CORS", h: cors, method: http.MethodGet,
			give: map[string]string{"Accept-Encoding": "gzip", "Origin": "https://dash.example"},
			want: http.Header{
				"Access-Control-Allow-Origin":   {"https://dash.example"},
				"Access-Control-Expose-Headers": {"ETag"},
				"Cache-Control":                 {"no-cache"},
				"Etag":                          {p.ETag},
				"Vary":                          {"Accept-Encoding", "Origin"},
				"Content-Type":                  {"application/json"},
				"Content-Encoding":              {"gzip"},
				"Content-Length":                {strconv.Itoa(len(p.Gzip))},
			},
		},
		{
			name: "200 plain without CORS", h: plain, method: http.MethodGet,
			want: http.Header{
				"Cache-Control":  {"no-cache"},
				"Etag":           {p.ETag},
				"Vary":           {"Accept-Encoding"},
				"Content-Type":   {"application/json"},
				"Content-Length": {strconv.Itoa(len(p.JSON))},
			},
		},
		{
			name: "HEAD", h: plain, method: http.MethodHead,
			want: http.Header{
				"Cache-Control":  {"no-cache"},
				"Etag":           {p.ETag},
				"Vary":           {"Accept-Encoding"},
				"Content-Type":   {"application/json"},
				"Content-Length": {strconv.Itoa(len(p.JSON))},
			},
		},
		{
			name: "304", h: cors, method: http.MethodGet,
			give: map[string]string{"If-None-Match": p.ETag, "Accept-Encoding": "gzip", "Origin": "https://dash.example"},
			want: http.Header{
				"Access-Control-Allow-Origin":   {"https://dash.example"},
				"Access-Control-Expose-Headers": {"ETag"},
				"Cache-Control":                 {"no-cache"},
				"Etag":                          {p.ETag},
				"Vary":                          {"Accept-Encoding", "Origin"},
			},
		},
		{
			name: "503", h: empty, method: http.MethodGet,
			give: map[string]string{"Origin": "https://dash.example"},
			want: http.Header{
				"Access-Control-Allow-Origin":   {"https://dash.example"},
				"Access-Control-Expose-Headers": {"ETag"},
				"Cache-Control":                 {"no-cache"},
				"Content-Type":                  {"application/json"},
				"Vary":                          {"Accept-Encoding", "Origin"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := serve(tt.h, tt.method, "/snapshot", tt.give)
			if diff := cmp.Diff(tt.want, rec.Header()); diff != "" {
				t.Errorf("headers (-want +got):\n%s", diff)
			}
			for k := range rec.Header() {
				if k != http.CanonicalHeaderKey(k) {
					t.Errorf("header key %q is not canonical", k)
				}
			}
			if tt.method == http.MethodHead && rec.Body.Len() != 0 {
				t.Errorf("HEAD sent a %d-byte body", rec.Body.Len())
			}
		})
	}
}

// TestSnapshotSharedHeaderValues: the header values are shared between
// answers, so what a caller adds to one answer's header must not show in
// another's, nor in the next answer.
func TestSnapshotSharedHeaderValues(t *testing.T) {
	tests := []struct {
		name string
		give []string // CORS origins
		want []string // Vary
	}{
		{name: "CORS", give: []string{"https://dash.example"}, want: []string{"Accept-Encoding", "Origin"}},
		{name: "no CORS", give: nil, want: []string{"Accept-Encoding"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestHandler(t, publishedStore(t), func(c *Config) { c.CORSOrigins = tt.give })
			origin := map[string]string{"Origin": "https://dash.example"}
			first := serve(h, http.MethodGet, "/snapshot", origin)
			second := serve(h, http.MethodGet, "/snapshot", origin)
			first.Header().Add("Vary", "Cookie")
			first.Header().Add("Access-Control-Expose-Headers", "Date")
			second.Header().Add("Vary", "User-Agent")
			if got, want := first.Header().Values("Vary"), append(slices.Clone(tt.want), "Cookie"); !cmp.Equal(got, want) {
				t.Errorf("Vary = %q after another answer's Add, want %q", got, want)
			}
			next := serve(h, http.MethodGet, "/snapshot", origin)
			if got := next.Header().Values("Vary"); !cmp.Equal(got, tt.want) {
				t.Errorf("Vary = %q after earlier answers' Add, want only %q", got, tt.want)
			}
			if got := next.Header().Values("Access-Control-Expose-Headers"); tt.give != nil && !cmp.Equal(got, []string{"ETag"}) {
				t.Errorf("Access-Control-Expose-Headers = %q after earlier answers' Add, want only ETag", got)
			}
		})
	}
}

// TestSnapshotNewPublish: the headers built for one snapshot are not sent
// with the next.
func TestSnapshotNewPublish(t *testing.T) {
	s := publishedStore(t)
	h := newTestHandler(t, s)
	first := serve(h, http.MethodGet, "/snapshot", nil)
	now := time.Now()
	s.Update(snapshot.SourceState{Source: source.Redis, LastAttempt: now, LastSuccess: now, Section: &snapshot.RedisSection{Info: snapshot.RedisInfo{Version: strings.Repeat("7", 100)}}})
	p := s.Load()
	second := serve(h, http.MethodGet, "/snapshot", nil)
	if first.Header().Get("ETag") == p.ETag {
		t.Fatal("the publish did not change the ETag")
	}
	if got := second.Header().Get("ETag"); got != p.ETag {
		t.Errorf("ETag = %q, want the new %q", got, p.ETag)
	}
	if got, want := second.Header().Get("Content-Length"), strconv.Itoa(len(p.JSON)); got != want || second.Body.Len() != len(p.JSON) {
		t.Errorf("Content-Length %s with a %d-byte body, want %s", got, second.Body.Len(), want)
	}
}

// TestSnapshotConcurrentPublish serves while snapshots are published: each
// answer's ETag, Content-Length and body belong to one snapshot.
func TestSnapshotConcurrentPublish(t *testing.T) {
	s := publishedStore(t)
	h := newTestHandler(t, s)
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Go(func() {
		for range 200 {
			now := time.Now()
			s.Update(snapshot.SourceState{Source: source.Redis, LastAttempt: now, LastSuccess: now, Section: &snapshot.RedisSection{}})
		}
		close(done)
	})
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				rec := serve(h, http.MethodGet, "/snapshot", nil)
				var body struct {
					Sequence uint64 `json:"sequence"`
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
					t.Errorf("decode the body: %v", err)
					return
				}
				etag := rec.Header().Get("ETag")
				if !strings.HasSuffix(etag, "-"+strconv.FormatUint(body.Sequence, 10)+`"`) {
					t.Errorf("ETag %s with the body of snapshot %d", etag, body.Sequence)
				}
				if cl := rec.Header().Get("Content-Length"); cl != strconv.Itoa(rec.Body.Len()) {
					t.Errorf("Content-Length %s with a %d-byte body", cl, rec.Body.Len())
				}
			}
		})
	}
	wg.Wait()
}

func TestETagMatches(t *testing.T) {
	const etag = `"b-7"`
	tests := []struct {
		give []string
		want bool
	}{
		{give: nil, want: false},
		{give: []string{""}, want: false},
		{give: []string{etag}, want: true},
		{give: []string{"W/" + etag}, want: true},
		{give: []string{"*"}, want: true},
		{give: []string{` "a-1" ,  ` + etag + ` `}, want: true},
		{give: []string{`"a-1"`, etag}, want: true},
		{give: []string{`"a-1", W/"b-8"`}, want: false},
		{give: []string{`b-7`}, want: false},
		{give: []string{`,,`}, want: false},
	}
	for _, tt := range tests {
		if got := etagMatches(tt.give, etag); got != tt.want {
			t.Errorf("etagMatches(%q) = %t, want %t", tt.give, got, tt.want)
		}
	}
}

func TestAcceptsGzip(t *testing.T) {
	tests := []struct {
		give []string
		want bool
	}{
		{give: nil, want: false},
		{give: []string{""}, want: false},
		{give: []string{"gzip"}, want: true},
		{give: []string{"GZip"}, want: true},
		{give: []string{"deflate, gzip;q=1.0, *;q=0.5"}, want: true},
		{give: []string{"br", " gzip ; q=0.001"}, want: true},
		{give: []string{"gzip;q=0"}, want: false},
		{give: []string{"gzip; q=0.000"}, want: false},
		{give: []string{"gzip;q=zero"}, want: false},
		{give: []string{"gzip;q=0, gzip"}, want: false},
		{give: []string{"br, identity"}, want: false},
		{give: []string{"x-gzip"}, want: false},
		{give: []string{"*"}, want: false},
	}
	for _, tt := range tests {
		if got := acceptsGzip(tt.give); got != tt.want {
			t.Errorf("acceptsGzip(%q) = %t, want %t", tt.give, got, tt.want)
		}
	}
}

// TestSnapshotOverHTTP checks an answer as a client receives it from a
// real server: the headers set straight into the map reach the wire.
func TestSnapshotOverHTTP(t *testing.T) {
	s := publishedStore(t)
	srv := httptest.NewServer(newTestHandler(t, s))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	defer client.CloseIdleConnections()
	p := s.Load()
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+"/snapshot", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		wantBody := p.Gzip
		if method == http.MethodHead {
			wantBody = nil
		}
		got := []string{resp.Status, resp.Header.Get("ETag"), resp.Header.Get("Content-Encoding"), resp.Header.Get("Content-Length"), resp.Header.Get("Vary"), resp.Header.Get("Cache-Control"), resp.Header.Get("Content-Type")}
		want := []string{"200 OK", p.ETag, "gzip", strconv.Itoa(len(p.Gzip)), "Accept-Encoding", "no-cache", "application/json"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: headers (-want +got):\n%s", method, diff)
		}
		if !bytes.Equal(body, wantBody) {
			t.Errorf("%s: %d-byte body, want %d bytes", method, len(body), len(wantBody))
		}
	}
}
