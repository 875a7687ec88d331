package poll

import (
	"context"
	"errors"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	promconfig "github.com/prometheus/common/config"
	"go.uber.org/zap/zaptest"

	"github.com/observerd/observerd/internal/clients/ratelimiter"
	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/source"
	"github.com/observerd/observerd/internal/testenv"
)

// apiNodeAnswers are a healthy node's answers, by path.
func apiNodeAnswers(id string) map[string]string {
	return map[string]string{
		"/health":       `{"status": "healthy", "node_id": "` + id + `"}`,
		"/api/nodes":    `{"nodes": [{"id": "` + id + `", "address": "h:1", "state": "Up", "registered_at": "2026-01-27T01:48:37.123456"}]}`,
		"/api/counters": `{"counters": [{"key": "user:1", "count": 3, "limit": 10, "remaining": 7}]}`,
		"/api/limits":   `{"default_limit": 10, "default_window_ms": 60000}`,
		"/api/blocks":   `{"blocked": []}`,
	}
}

// startAPINode starts a node double that answers like a healthy node,
// except for the paths in override, and returns its base URL.
func startAPINode(t *testing.T, id string, override map[string]http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(apiNodeHandler(id, override))
	t.Cleanup(srv.Close)
	return srv.URL
}

// apiNodeHandler is the node double's handler.
func apiNodeHandler(id string, override map[string]http.HandlerFunc) http.Handler {
	answers := apiNodeAnswers(id)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := override[r.URL.Path]; h != nil {
			h(w, r)
			return
		}
		body, ok := answers[r.URL.Path]
		if !ok || r.Method != http.MethodGet {
			http.Error(w, `{"detail": "Not Found"}`, http.StatusNotFound)
			return
		}
		_, _ = w.Write([]byte(body))
	})
}

func answer(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

// hang answers only when the client gives up.
func hang(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

// closedURL is the URL of a port that refuses connections.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func hostPort(url string) string { return strings.TrimPrefix(url, "http://") }

func newNodesPoller(t *testing.T, cfg NodesConfig) *NodesPoller {
	t.Helper()
	cfg.Logger = zaptest.NewLogger(t)
	p, err := NewNodesPoller(cfg)
	if err != nil {
		t.Fatalf("NewNodesPoller: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

func pollNodes(t *testing.T, p *NodesPoller, timeout time.Duration) []snapshot.NodeReport {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	sec, err := p.Poll(ctx)
	if err != nil {
		t.Fatalf("Poll: %v", err)
	}
	nodes := sec.(*snapshot.NodesSection).Nodes
	if !slices.IsSortedFunc(nodes, func(a, b snapshot.NodeReport) int { return strings.Compare(a.Address, b.Address) }) {
		t.Errorf("reports not sorted by address: %+v", nodes)
	}
	return nodes
}

func byAddress(nodes []snapshot.NodeReport) map[string]snapshot.NodeReport {
	m := make(map[string]snapshot.NodeReport, len(nodes))
	for _, n := range nodes {
		m[n.Address] = n
	}
	return m
}

func errorKeys(r snapshot.NodeReport) []string {
	var keys []string
	for k := range r.Errors {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func TestNodesPollerReports(t *testing.T) {
	tests := []struct {
		name          string
		give          func(t *testing.T) string // starts the node, returns its URL
		wantID        string
		wantReachable bool
		wantErrors    []string // endpoints that failed
		wantBlank     []string // endpoints whose field is nil
		wantErrText   string   // in the first failing endpoint's error
	}{
		{
			name:          "all good",
			give:          func(t *testing.T) string { return startAPINode(t, "good", nil) },
			wantID:        "good",
			wantReachable: true,
		},
		{
			name: "only counters fails",
			give: func(t *testing.T) string {
				return startAPINode(t, "half", map[string]http.HandlerFunc{"/api/counters": answer(500, `{"detail": "redis timeout"}`)})
			},
			wantID:        "half",
			wantReachable: true,
			wantErrors:    []string{"/api/counters"},
			wantBlank:     []string{"/api/counters"},
			wantErrText:   "status 500 Internal Server Error: redis timeout",
		},
		{
			name:        "unreachable",
			give:        closedURL,
			wantErrors:  []string{"/health"},
			wantBlank:   []string{"/api/nodes", "/api/counters", "/api/limits", "/api/blocks"},
			wantErrText: "connection refused",
		},
		{
			name: "health answers 503, the rest works",
			give: func(t *testing.T) string {
				return startAPINode(t, "sick", map[string]http.HandlerFunc{"/health": answer(503, `<html>down</html>`)})
			},
			wantErrors:  []string{"/health"},
			wantErrText: "status 503",
		},
		{
			name: "health says degraded",
			give: func(t *testing.T) string {
				return startAPINode(t, "degraded", map[string]http.HandlerFunc{"/health": answer(200, `{"status": "degraded", "node_id": "degraded"}`)})
			},
			wantID:      "degraded",
			wantErrors:  []string{"/health"},
			wantErrText: `node reports status "degraded"`,
		},
		{
			name: "garbage limits and blocks",
			give: func(t *testing.T) string {
				return startAPINode(t, "garbled", map[string]http.HandlerFunc{
					"/api/limits": answer(200, `{"default_limit": "ten"}`),
					"/api/blocks": answer(200, `not json`),
				})
			},
			wantID:        "garbled",
			wantReachable: true,
			wantErrors:    []string{"/api/blocks", "/api/limits"},
			wantBlank:     []string{"/api/blocks", "/api/limits"},
			wantErrText:   "bad answer",
		},
	}
	// One poll of every node at once, checked node by node.
	urls := make([]string, len(tests))
	for i, tt := range tests {
		urls[i] = tt.give(t)
	}
	p := newNodesPoller(t, NodesConfig{URLs: urls})
	got := byAddress(pollNodes(t, p, 5*time.Second))
	if len(got) != len(tests) {
		t.Fatalf("Poll returned %d reports, want %d", len(got), len(tests))
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := got[hostPort(urls[i])]
			if !ok {
				t.Fatalf("no report for %s", urls[i])
			}
			if r.URL != urls[i] || r.ID != tt.wantID || r.Reachable != tt.wantReachable {
				t.Errorf("report = {URL %s, ID %q, Reachable %t}, want {%s, %q, %t}", r.URL, r.ID, r.Reachable, urls[i], tt.wantID, tt.wantReachable)
			}
			if keys := errorKeys(r); !slices.Equal(keys, tt.wantErrors) {
				t.Errorf("errors on %v, want %v: %v", keys, tt.wantErrors, r.Errors)
			}
			if len(tt.wantErrors) > 0 {
				msg := r.Errors[tt.wantErrors[0]]
				if !strings.Contains(msg, tt.wantErrText) || !strings.Contains(msg, urls[i]+tt.wantErrors[0]) {
					t.Errorf("error %q: want it to name %s and contain %q", msg, urls[i]+tt.wantErrors[0], tt.wantErrText)
				}
			}
			blank := map[string]bool{
				"/api/nodes":    r.Peers == nil,
				"/api/counters": r.Counters == nil,
				"/api/limits":   r.Limits == nil,
				"/api/blocks":   r.Blocked == nil,
			}
			for path, isBlank := range blank {
				if want := slices.Contains(tt.wantBlank, path); isBlank != want {
					t.Errorf("%s blank = %t, want %t", path, isBlank, want)
				}
			}
			if answered := !slices.Contains(tt.wantBlank, "/api/nodes"); answered && r.HealthLatency <= 0 {
				t.Errorf("HealthLatency = %s, want > 0", r.HealthLatency)
			}
		})
	}
	good := got[hostPort(urls[0])]
	if len(good.Counters) != 1 || good.Counters[0].Key != "user:1" || *good.Limits != (snapshot.APILimits{DefaultLimit: 10, DefaultWindow: time.Minute}) || len(good.Blocked) != 0 || good.Blocked == nil {
		t.Errorf("good node's data = %+v", good)
	}
	if len(good.Peers) != 1 || good.Peers[0].RegisteredAt == nil {
		t.Errorf("good node's peers = %+v", good.Peers)
	}
}

func TestNodesPollerDiscovery(t *testing.T) {
	// The configured node lives under a path prefix, so a report of it
	// polled through its bare discovered address would be unreachable.
	srvA := httptest.NewServer(http.StripPrefix("/rl", apiNodeHandler("a", nil)))
	t.Cleanup(srvA.Close)
	urlA := srvA.URL + "/rl"
	urlB := startAPINode(t, "b", nil)
	urlC := startAPINode(t, "c", nil)
	a, b, c := hostPort(srvA.URL), hostPort(urlB), hostPort(urlC)

	var discovered []string
	p := newNodesPoller(t, NodesConfig{
		URLs:     []string{urlA, urlA + "/"},
		Discover: snapshot.HintsFunc(func() snapshot.Hints { return snapshot.Hints{RegistryAddrs: discovered} }),
	})
	tests := []struct {
		name       string
		give       []string
		want       map[string]string // address -> URL polled
		wantBroken string            // an address reported unreachable
		wantCached int
	}{
		{name: "configured only", want: map[string]string{a: urlA}},
		{
			name:       "merged and de-duplicated",
			give:       []string{a, b, b, " ", c},
			want:       map[string]string{a: urlA, b: urlB, c: urlC},
			wantCached: 2,
		},
		{
			name:       "bad registry address",
			give:       []string{"no-port", b},
			want:       map[string]string{a: urlA, b: urlB, "no-port": "http://no-port"},
			wantBroken: "no-port",
			wantCached: 1,
		},
		{name: "nodes gone from the registry are dropped", give: []string{}, want: map[string]string{a: urlA}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			discovered = tt.give
			before := maps.Clone(p.discovered)
			got := byAddress(pollNodes(t, p, 5*time.Second))
			if len(got) != len(tt.want) {
				t.Errorf("Poll returned %d reports, want %d: %+v", len(got), len(tt.want), got)
			}
			for addr, url := range tt.want {
				r := got[addr]
				if r.URL != url {
					t.Errorf("%s polled at %q, want %q", addr, r.URL, url)
				}
				if wantReachable := addr != tt.wantBroken; r.Reachable != wantReachable {
					t.Errorf("%s reachable = %t, want %t (errors %v)", addr, r.Reachable, wantReachable, r.Errors)
				}
			}
			if len(p.discovered) != tt.wantCached {
				t.Errorf("%d cached clients, want %d", len(p.discovered), tt.wantCached)
			}
			for base, c := range p.discovered {
				if old, ok := before[base]; ok && old != c {
					t.Errorf("client of %s replaced, want it reused", base)
				}
			}
		})
	}
}

func TestNodesPollerSlowNode(t *testing.T) {
	const timeout = 300 * time.Millisecond
	fast := startAPINode(t, "fast", nil)
	slow := startAPINode(t, "slow", map[string]http.HandlerFunc{"/health": hang})
	slowCounters := startAPINode(t, "slow-counters", map[string]http.HandlerFunc{"/api/counters": hang})
	p := newNodesPoller(t, NodesConfig{URLs: []string{slow, fast, slowCounters}})

	start := time.Now()
	got := byAddress(pollNodes(t, p, timeout))
	if elapsed := time.Since(start); elapsed > timeout+2*time.Second {
		t.Errorf("Poll took %s with a %s deadline", elapsed, timeout)
	}
	if r := got[hostPort(fast)]; !r.Reachable || r.Errors != nil || r.Counters == nil {
		t.Errorf("fast node = %+v, want reachable with all its data", r)
	}
	if r := got[hostPort(slow)]; r.Reachable || !strings.Contains(r.Errors[ratelimiter.PathHealth], "deadline exceeded") {
		t.Errorf("slow node = %+v, want unreachable with a deadline error", r)
	}
	r := got[hostPort(slowCounters)]
	if !r.Reachable || r.Counters != nil || r.Limits == nil || !slices.Equal(errorKeys(r), []string{ratelimiter.PathCounters}) {
		t.Errorf("node with slow counters = %+v, want reachable with only counters missing", r)
	}
}

func TestNodesPollerFails(t *testing.T) {
	tests := []struct {
		name    string
		give    func(t *testing.T) NodesConfig
		wantErr error
	}{
		{
			name: "no nodes",
			give: func(t *testing.T) NodesConfig {
				return NodesConfig{Discover: snapshot.HintsFunc(func() snapshot.Hints { return snapshot.Hints{} })}
			},
			wantErr: ErrNoNodes,
		},
		{
			name: "no node answered before the deadline",
			give: func(t *testing.T) NodesConfig {
				slow := startAPINode(t, "slow", map[string]http.HandlerFunc{"/health": hang})
				return NodesConfig{URLs: []string{slow}}
			},
			wantErr: context.DeadlineExceeded,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newNodesPoller(t, tt.give(t))
			ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
			defer cancel()
			sec, err := p.Poll(ctx)
			if !errors.Is(err, tt.wantErr) || sec != nil {
				t.Errorf("Poll() = %v, %v; want nil, %v", sec, err, tt.wantErr)
			}
		})
	}
}

func TestNodesPollerUnreachableIsData(t *testing.T) {
	p := newNodesPoller(t, NodesConfig{URLs: []string{closedURL(t), closedURL(t)}})
	got := pollNodes(t, p, 5*time.Second)
	if len(got) != 2 || got[0].Reachable || got[1].Reachable {
		t.Errorf("Poll() = %+v, want two unreachable reports", got)
	}
}

func TestNewNodesPoller(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	if _, err := NewNodesPoller(NodesConfig{URLs: []string{"localhost:8000"}}); err == nil {
		t.Error("NewNodesPoller accepted a URL without scheme")
	}
	p := newNodesPoller(t, NodesConfig{URLs: []string{startAPINode(t, "n", nil)}, Client: ratelimiter.Options{Location: berlin}})
	if p.Name() != source.Ratelimiter {
		t.Errorf("Name() = %q", p.Name())
	}
	got := pollNodes(t, p, 5*time.Second)
	want := time.Date(2026, 1, 27, 0, 48, 37, 123456000, time.UTC)
	if len(got) != 1 || len(got[0].Peers) != 1 || !got[0].Peers[0].RegisteredAt.Equal(want) {
		t.Errorf("Poll() = %+v, want a peer registered at %s", got, want)
	}
}

// TestNodesPollerDiscoversHTTPSNodes: with DiscoverScheme https, a node
// found in the registry is asked over TLS, trusting the client's CA.
func TestNodesPollerDiscoversHTTPSNodes(t *testing.T) {
	ca := testenv.NewCA(t)
	srv := ca.ServeTLS(t, apiNodeHandler("node-tls", nil), false)
	addr := strings.TrimPrefix(srv.URL, "https://")
	p := newNodesPoller(t, NodesConfig{
		Discover:       snapshot.HintsFunc(func() snapshot.Hints { return snapshot.Hints{RegistryAddrs: []string{addr}} }),
		DiscoverScheme: "https",
		Client:         ratelimiter.Options{HTTP: promconfig.HTTPClientConfig{TLSConfig: promconfig.TLSConfig{CAFile: ca.CertFile}}},
	})
	r := byAddress(pollNodes(t, p, 5*time.Second))[addr]
	if r.URL != "https://"+addr || !r.Reachable {
		t.Errorf("discovered node: URL %q, reachable %t, errors %v; want https://%s, reachable", r.URL, r.Reachable, r.Errors, addr)
	}
}
