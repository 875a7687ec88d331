package server

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/observerd/observerd/internal/history"
	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
)

// h0 is the time of the first snapshot of the history tests, a whole
// minute from the epoch.
var h0 = time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)

// pastServer is a handler over a snapshot store whose every snapshot the
// history records, with a manual clock.
type pastServer struct {
	store *snapshot.Store
	hist  *history.Store
	reg   *prometheus.Registry
	h     http.Handler
	mu    sync.Mutex
	now   time.Time
}

func (p *pastServer) Now() time.Time { p.mu.Lock(); defer p.mu.Unlock(); return p.now }

func (p *pastServer) at(t time.Time) { p.mu.Lock(); defer p.mu.Unlock(); p.now = t }

// newPastServer publishes a snapshot at h0, h0+10s and h0+20s (sequences
// 1 to 3), each with an override and the third with a violation, and sets
// the clock to h0+30s.
func newPastServer(t *testing.T, with ...func(*Config)) *pastServer {
	t.Helper()
	p := &pastServer{now: h0, reg: prometheus.NewRegistry()}
	p.hist = history.New(history.Config{Horizon: time.Hour})
	p.store = snapshot.NewStore(snapshot.StoreConfig{
		Enabled: []string{source.Redis}, DefaultLimit: 100, DefaultWindow: time.Minute, NodeForgetAfter: time.Minute,
		Now: p.Now,
		OnPublish: func(pub *snapshot.Published) {
			if err := p.hist.Record(pub); err != nil {
				t.Error(err)
			}
		},
	})
	for i := range 3 {
		p.at(h0.Add(time.Duration(i) * 10 * time.Second))
		sec := &snapshot.RedisSection{
			Info:      snapshot.RedisInfo{Connected: true},
			Overrides: []snapshot.Override{{Key: "vip", Limit: 5, Window: snapshot.Milliseconds(time.Second)}},
			Counters:  snapshot.Counters{Keys: int64(10 + i)},
		}
		p.store.Update(snapshot.SourceState{Source: source.Redis, LastAttempt: p.Now(), LastSuccess: p.Now(), Section: sec})
	}
	p.at(h0.Add(30 * time.Second))
	p.h = newTestHandler(t, p.store, append([]func(*Config){func(c *Config) {
		c.History, c.Now, c.Registry = p.hist, p.Now, p.reg
	}}, with...)...)
	return p
}

func (p *pastServer) get(t *testing.T, path string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	resp := get(t, p.h, path, header)
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func stamp(t time.Time) string { return url.QueryEscape(t.Format(time.RFC3339)) }

func TestSnapshotAt(t *testing.T) {
	p := newPastServer(t)
	tests := []struct {
		give    string
		wantSeq uint64
	}{
		{give: "/snapshot?at=" + stamp(h0.Add(15*time.Second)), wantSeq: 2},
		{give: "/snapshot?at=" + stamp(h0), wantSeq: 1},
		{give: "/snapshot?at=-25s", wantSeq: 1},
		{give: "/snapshot?at=-10s", wantSeq: 3},
		{give: "/snapshot?at=now", wantSeq: 3},
	}
	for _, tt := range tests {
		resp, body := p.get(t, tt.give, nil)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d %s", tt.give, resp.StatusCode, body)
			continue
		}
		var s snapshot.Snapshot
		if err := json.Unmarshal(body, &s); err != nil {
			t.Fatal(err)
		}
		if s.Sequence != tt.wantSeq || s.Counters.Keys != int64(9+tt.wantSeq) {
			t.Errorf("%s: snapshot %d with %d keys, want %d", tt.give, s.Sequence, s.Counters.Keys, tt.wantSeq)
		}
		if len(s.Limits.Overrides) != 0 || s.Limits.DefaultLimit != 100 {
			t.Errorf("%s: limits %+v, want the defaults without the overrides", tt.give, s.Limits)
		}
		if etag := resp.Header.Get("ETag"); !strings.HasSuffix(etag, "-h\"") || etag == p.store.Load().ETag {
			t.Errorf("%s: ETag %s, want the summary's", tt.give, etag)
		}
	}

	// 304, gzip, a selection.
	resp, plain := p.get(t, "/snapshot?at=-25s", nil)
	etag := resp.Header.Get("ETag")
	if resp, _ := p.get(t, "/snapshot?at=-25s", map[string]string{"If-None-Match": etag}); resp.StatusCode != http.StatusNotModified || resp.Header.Get("ETag") != etag {
		t.Errorf("If-None-Match: %d, ETag %q", resp.StatusCode, resp.Header.Get("ETag"))
	}
	resp, zipped := p.get(t, "/snapshot?at=-25s", map[string]string{"Accept-Encoding": "gzip"})
	if resp.Header.Get("Content-Encoding") != "gzip" || gunzip(t, zipped) != string(plain) {
		t.Errorf("gzip: %q, not the plain document", resp.Header.Get("Content-Encoding"))
	}
	resp, body := p.get(t, "/snapshot?at=-25s&sections=counters", map[string]string{"Accept-Encoding": "gzip"})
	var sel map[string]json.RawMessage
	if err := json.Unmarshal([]byte(gunzip(t, body)), &sel); err != nil {
		t.Fatal(err)
	}
	if keys := slices.Sorted(maps.Keys(sel)); !cmp.Equal(keys, []string{"counters", "generated_at", "schema_version", "sequence"}) || resp.Header.Get("ETag") == etag {
		t.Errorf("selection has %v, ETag %s", keys, resp.Header.Get("ETag"))
	}
	if got := resp.Header.Get("Cache-Control"); got != "no-cache" {
		t.Errorf("Cache-Control %q", got)
	}
}

func TestSnapshotAtRefused(t *testing.T) {
	p := newPastServer(t)
	tests := []struct {
		give      string
		wantCode  int
		wantParam string
		wantError string
	}{
		{give: "/snapshot?at=yesterday", wantCode: 400, wantParam: "at", wantError: "neither an RFC 3339 time"},
		{give: "/snapshot?at=20m", wantCode: 400, wantParam: "at", wantError: "ahead of now"},
		{give: "/snapshot?at=-1m&after=1", wantCode: 400, wantParam: "at", wantError: "not with after or wait"},
		{give: "/snapshot?at=-1m&wait=1s", wantCode: 400, wantParam: "at", wantError: "not with after or wait"},
		{give: "/snapshot?at=-1m&sections=nope", wantCode: 400, wantParam: "sections", wantError: "unknown section"},
		{give: "/snapshot?at=-1h", wantCode: 404, wantError: "is before the kept history, which runs from 2026-12-05T08:00:00Z to 2026-12-05T08:00:20Z"},
	}
	for _, tt := range tests {
		resp, body := p.get(t, tt.give, nil)
		var got map[string]any
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("%s: %v: %s", tt.give, err, body)
		}
		if resp.StatusCode != tt.wantCode || !strings.Contains(got["error"].(string), tt.wantError) || tt.wantParam != "" && got["parameter"] != tt.wantParam {
			t.Errorf("%s: %d %s; want %d naming %q with %q", tt.give, resp.StatusCode, body, tt.wantCode, tt.wantParam, tt.wantError)
		}
		if tt.wantCode == 404 && (got["kept_since"] != "2026-12-05T08:00:00Z" || got["horizon_ms"] != 3600000.0) {
			t.Errorf("%s: the 404 does not say what is kept: %s", tt.give, body)
		}
	}
	for name, hist := range map[string]*history.Store{"off": history.New(history.Config{}), "none": nil} {
		h := newTestHandler(t, p.store, func(c *Config) { c.History = hist })
		resp := get(t, h, "/snapshot?at=-1m", nil)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 404 || !strings.Contains(string(body), "history is off") {
			t.Errorf("history %s: %d %s", name, resp.StatusCode, body)
		}
		if resp := get(t, h, "/history", nil); resp.StatusCode != 404 {
			t.Errorf("history %s: /history answered %d", name, resp.StatusCode)
		}
	}
}

// historyPoints decodes a /history answer.
func historyPoints(t *testing.T, body []byte) (step int64, points []map[string]json.RawMessage) {
	t.Helper()
	var a struct {
		Step   int64                        `json:"step_ms"`
		Points []map[string]json.RawMessage `json:"points"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatalf("decode /history: %v: %s", err, body)
	}
	return a.Step, a.Points
}

func sequences(points []map[string]json.RawMessage) []string {
	var out []string
	for _, pt := range points {
		out = append(out, string(pt["sequence"]))
	}
	return out
}

func TestHistory(t *testing.T) {
	p := newPastServer(t)
	resp, body := p.get(t, "/history", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("/history: %d %s", resp.StatusCode, body)
	}
	step, points := historyPoints(t, body)
	if step != 0 || !cmp.Equal(sequences(points), []string{"1", "2", "3"}) {
		t.Fatalf("step %d, points %v", step, sequences(points))
	}
	var agg struct {
		GeneratedAt time.Time         `json:"generated_at"`
		Sources     map[string]string `json:"sources"`
		Counters    map[string]any    `json:"counters"`
		Redis       map[string]any    `json:"redis"`
		Violations  map[string]int    `json:"violations"`
	}
	raw, _ := json.Marshal(points[2])
	if err := json.Unmarshal(raw, &agg); err != nil {
		t.Fatal(err)
	}
	if agg.GeneratedAt != h0.Add(20*time.Second) || agg.Sources["redis"] != "ok" || agg.Counters["keys"] != 12.0 || agg.Redis["connected"] != true || agg.Violations["critical"] != 0 {
		t.Errorf("point %s", raw)
	}
	if _, ok := agg.Counters["top"]; ok {
		t.Error("the aggregates carry the top keys")
	}

	etag := resp.Header.Get("ETag")
	if r, _ := p.get(t, "/history", map[string]string{"If-None-Match": etag}); r.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %d", r.StatusCode)
	}
	if r, zipped := p.get(t, "/history", map[string]string{"Accept-Encoding": "gzip"}); r.Header.Get("Content-Encoding") != "gzip" || gunzip(t, zipped) != string(body) {
		t.Error("gzip answer differs")
	}

	tests := []struct {
		give     string
		wantSeqs []string
		wantStep int64
	}{
		{give: "/history?since=" + stamp(h0.Add(5*time.Second)) + "&until=" + stamp(h0.Add(25*time.Second)), wantSeqs: []string{"2", "3"}},
		{give: "/history?since=-25s", wantSeqs: []string{"2", "3"}},
		{give: "/history?until=-15s", wantSeqs: []string{"1", "2"}},
		{give: "/history?step=20s", wantSeqs: []string{"1", "3"}, wantStep: 20000},
		{give: "/history?since=-1h&until=-40s", wantSeqs: nil},
	}
	for _, tt := range tests {
		resp, body := p.get(t, tt.give, nil)
		step, points := historyPoints(t, body)
		if resp.StatusCode != 200 || step != tt.wantStep || !cmp.Equal(sequences(points), tt.wantSeqs) {
			t.Errorf("%s: %d, step %d, points %v; want step %d, %v", tt.give, resp.StatusCode, step, sequences(points), tt.wantStep, tt.wantSeqs)
		}
	}

	_, body = p.get(t, "/history?sections=violations,counters", nil)
	_, points = historyPoints(t, body)
	if len(points) != 3 || !cmp.Equal(slices.Sorted(maps.Keys(points[0])), []string{"counters", "generated_at", "schema_version", "sequence", "violations"}) {
		t.Errorf("sections: %s", body)
	}
}

func TestHistoryRefused(t *testing.T) {
	p := newPastServer(t)
	tests := []struct {
		give, wantParam, wantError string
	}{
		{give: "/history?since=yesterday", wantParam: "since", wantError: "neither an RFC 3339 time"},
		{give: "/history?until=5m", wantParam: "until", wantError: "ahead of now"},
		{give: "/history?since=-1m&until=-2m", wantParam: "since", wantError: "is after until"},
		{give: "/history?step=0s", wantParam: "step", wantError: "not a positive duration"},
		{give: "/history?step=-1s", wantParam: "step", wantError: "not a positive duration"},
		{give: "/history?step=often", wantParam: "step", wantError: "not a positive duration"},
		{give: "/history?sections=nope", wantParam: "sections", wantError: `unknown section "nope"`},
		{give: "/history?since=%zz", wantParam: "query", wantError: "invalid URL escape"},
	}
	for _, tt := range tests {
		resp, body := p.get(t, tt.give, nil)
		var got map[string]any
		_ = json.Unmarshal(body, &got)
		if resp.StatusCode != 400 || got["parameter"] != tt.wantParam || !strings.Contains(got["error"].(string), tt.wantError) {
			t.Errorf("%s: %d %s; want 400 naming %s with %q", tt.give, resp.StatusCode, body, tt.wantParam, tt.wantError)
		}
	}
}

// TestHistoryBounds: a range of more points than the bound answers at most
// the bound, with the larger step it used.
func TestHistoryBounds(t *testing.T) {
	p := newPastServer(t)
	for i := range 1500 {
		pub := p.store.Load()
		s := *pub.Snapshot
		s.Sequence, s.GeneratedAt = uint64(10+i), h0.Add(time.Minute+time.Duration(i)*time.Second)
		body, _ := json.Marshal(&s)
		if err := p.hist.Record(&snapshot.Published{Snapshot: &s, JSON: body, ETag: `"b-x"`}); err != nil {
			t.Fatal(err)
		}
	}
	p.at(h0.Add(time.Hour))
	for _, tt := range []struct {
		give string
		max  int
	}{{"/history", maxHistoryPoints}, {"/history?step=1s", maxHistoryPoints}, {"/history?sections=sources", maxSectionPoints}} {
		_, body := p.get(t, tt.give, nil)
		step, points := historyPoints(t, body)
		if len(points) > tt.max || len(points) < tt.max/2 || step == 0 {
			t.Errorf("%s: %d points, step %d ms; want at most %d with a step", tt.give, len(points), step, tt.max)
		}
	}
}

// TestHistoryCORSAndCounted: /history is read from browsers like
// /snapshot, and counted under its route.
func TestHistoryCORSAndCounted(t *testing.T) {
	p := newPastServer(t)
	origin := map[string]string{"Origin": "https://dash.example"}
	for _, path := range []string{"/history", "/snapshot?at=-5s"} {
		if resp, _ := p.get(t, path, origin); resp.Header.Get("Access-Control-Allow-Origin") != "https://dash.example" || resp.Header.Get("Access-Control-Expose-Headers") != "ETag" {
			t.Errorf("%s: CORS headers %v", path, resp.Header)
		}
	}
	rec := serve(p.h, http.MethodOptions, "/history", map[string]string{"Origin": "https://dash.example", "Access-Control-Request-Method": "GET"})
	if rec.Code != http.StatusNoContent || rec.Header().Get("Access-Control-Allow-Origin") != "https://dash.example" {
		t.Errorf("preflight of /history: %d %v", rec.Code, rec.Header())
	}
	p.get(t, "/history?step=x", nil)
	counts := requestCounts(t, p.reg, "observerd_http_requests_total")
	if counts["/history 200"] != 1 || counts["/history 400"] != 1 || counts["/history 204"] != 1 || counts["/snapshot 200"] != 1 {
		t.Errorf("requests counted %v", counts)
	}
}

// TestHistoryBusy: /history and /snapshot?at= take a slot of the request
// bound.
func TestHistoryBusy(t *testing.T) {
	p := newPastServer(t, func(c *Config) { c.MaxRequests = 1 })
	// A /metrics request held in the registry's gather holds the one slot.
	bc := blockingCollector{entered: make(chan struct{}, 1), release: make(chan struct{})}
	p.reg.MustRegister(bc)
	done := make(chan struct{})
	go func() { defer close(done); serve(p.h, http.MethodGet, "/metrics", nil) }()
	<-bc.entered
	for _, path := range []string{"/history", "/snapshot?at=-5s"} {
		if resp, body := p.get(t, path, nil); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" {
			t.Errorf("%s while busy: %d %s", path, resp.StatusCode, body)
		}
	}
	close(bc.release)
	<-done
}

func gunzip(t *testing.T, b []byte) string {
	t.Helper()
	zr, err := gzip.NewReader(strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
