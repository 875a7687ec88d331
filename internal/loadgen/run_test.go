package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/observerd/observerd/internal/ratelimiter"
	"github.com/observerd/observerd/internal/testenv"
)

func TestRunTotalsMatchNodeMetrics(t *testing.T) {
	nodes, rdb := startNodes(t, 2, nil)
	cfg := Config{
		Targets:   []string{nodes[0].url, nodes[1].url + "/"},
		Rate:      2000,
		Count:     120,
		HotShare:  0.5,
		HotKeys:   2,
		Keys:      4,
		Limit:     ptr(5),
		WindowMS:  ptr(60000),
		KeyPrefix: "t-",
		Seed:      7,
	}
	got, err := Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got.Sent != 120 || got.Failed != 0 || got.Allowed+got.Blocked != 120 {
		t.Fatalf("totals %+v, want 120 sent, none failed", got)
	}
	// Six keys with a limit of 5 each: 30 allowed at most.
	if got.Allowed > 30 || got.Allowed == 0 {
		t.Errorf("allowed %d, want between 1 and 30", got.Allowed)
	}
	var nodeAllowed, nodeBlocked int64
	for _, n := range nodes {
		a, b := checked(t, n.Gatherer())
		nodeAllowed += a
		nodeBlocked += b
		tt := got.PerTarget[n.url]
		if tt.Sent != 60 || tt.Allowed != a || tt.Blocked != b {
			t.Errorf("target %s: %+v, node counted allowed %d blocked %d of 60 (round robin)", n.url, tt, a, b)
		}
	}
	if nodeAllowed != got.Allowed || nodeBlocked != got.Blocked {
		t.Errorf("nodes counted allowed %d blocked %d, loadgen %d and %d", nodeAllowed, nodeBlocked, got.Allowed, got.Blocked)
	}
	// Every allowed request is a member of its key's window in Redis.
	keys := rdb.Keys(t.Context(), "ratelimit:t-*").Val()
	var members int64
	for _, k := range keys {
		if strings.HasSuffix(k, ":seq") {
			continue
		}
		if !strings.HasPrefix(k, "ratelimit:t-hot-") && !strings.HasPrefix(k, "ratelimit:t-key-") {
			t.Errorf("unexpected key %s", k)
		}
		members += rdb.ZCard(t.Context(), k).Val()
	}
	if members != got.Allowed {
		t.Errorf("redis holds %d members, want %d allowed", members, got.Allowed)
	}
}

func TestRunNodeDefaultsAndFreshKeys(t *testing.T) {
	nodes, rdb := startNodes(t, 1, func(c *ratelimiter.Config) { c.DefaultLimit = 3 })
	tests := []struct {
		name        string
		give        Config
		wantAllowed int64
		wantBlocked int64
		wantKeys    int
	}{
		{
			name:        "limit and window left to the node",
			give:        Config{Rate: 1000, Count: 10, Keys: 1, KeyPrefix: "one-"},
			wantAllowed: 3, wantBlocked: 7, wantKeys: 1,
		},
		{
			name:        "fresh key per request",
			give:        Config{Rate: 1000, Count: 25, FreshKeys: true, Limit: ptr(1), WindowMS: ptr(2500), KeyPrefix: "fr-"},
			wantAllowed: 25, wantKeys: 25,
		},
		{
			name:        "hot keys only",
			give:        Config{Rate: 1000, Count: 12, HotShare: 1, HotKeys: 1, FreshKeys: true, Limit: ptr(4), KeyPrefix: "hot-"},
			wantAllowed: 4, wantBlocked: 8, wantKeys: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.give.Targets = []string{nodes[0].url}
			got, err := Run(t.Context(), tt.give)
			if err != nil {
				t.Fatal(err)
			}
			if got.Allowed != tt.wantAllowed || got.Blocked != tt.wantBlocked || got.Failed != 0 {
				t.Errorf("totals %+v, want allowed %d blocked %d", got, tt.wantAllowed, tt.wantBlocked)
			}
			var counters []string
			for _, k := range rdb.Keys(t.Context(), "ratelimit:"+tt.give.KeyPrefix+"*").Val() {
				if !strings.HasSuffix(k, ":seq") {
					counters = append(counters, k)
				}
			}
			if len(counters) != tt.wantKeys {
				t.Errorf("%d counters in redis, want %d", len(counters), tt.wantKeys)
			}
			if tt.give.WindowMS != nil {
				if ttl := rdb.TTL(t.Context(), counters[0]).Val(); ttl > 4*time.Second || ttl < 3*time.Second {
					t.Errorf("TTL %s, want ceil(2500/1000)+1 = 4s", ttl)
				}
			}
		})
	}
}

func TestRunBurstsWithinDuration(t *testing.T) {
	nodes, _ := startNodes(t, 1, nil)
	start := time.Now()
	got, err := Run(t.Context(), Config{
		Targets:    []string{nodes[0].url},
		BurstEvery: 100 * time.Millisecond,
		BurstSize:  5,
		Duration:   450 * time.Millisecond,
		Limit:      ptr(1000),
	})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 450*time.Millisecond || took > 5*time.Second {
		t.Errorf("run took %s, want about the duration", took)
	}
	if got.Sent == 0 || got.Sent%5 != 0 || got.Sent > 20 || got.Failed != 0 {
		t.Errorf("totals %+v, want whole bursts of 5, at most 4 of them", got)
	}
}

func TestRunEndsWithContext(t *testing.T) {
	nodes, _ := startNodes(t, 1, nil)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	type result struct {
		totals Totals
		err    error
	}
	done := make(chan result, 1)
	go func() {
		tot, err := Run(ctx, Config{Targets: []string{nodes[0].url}, Rate: 500, Limit: ptr(1000000)})
		done <- result{tot, err}
	}()
	testenv.WaitFor(t, 10*time.Second, "traffic at the node", func() error {
		if a, _ := checked(t, nodes[0].Gatherer()); a < 20 {
			return fmt.Errorf("%d checks so far", a)
		}
		return nil
	})
	cancel()
	select {
	case res := <-done:
		if res.err != nil {
			t.Fatal(res.err)
		}
		if res.totals.Sent < 20 {
			t.Errorf("totals %+v, want at least the 20 seen", res.totals)
		}
		// Requests in flight at the stop finish: none fails, and the
		// totals equal what the node decided.
		if a, _ := checked(t, nodes[0].Gatherer()); res.totals.Failed != 0 || res.totals.Allowed != int64(a) {
			t.Errorf("totals %+v after the stop, node counted %v allowed", res.totals, a)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not end with its context")
	}
}

func TestRunCountsFailures(t *testing.T) {
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"detail": "boom"}`, http.StatusInternalServerError)
	}))
	defer broken.Close()
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer slow.Close()
	// Runs before slow.Close, which waits for the handlers.
	defer close(release)
	notDecision := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok"))
	}))
	defer notDecision.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	tests := []struct {
		name string
		give string
	}{
		{name: "500", give: broken.URL},
		{name: "timeout", give: slow.URL},
		{name: "refused", give: closedURL},
		{name: "200 that is not a decision", give: notDecision.URL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Run(t.Context(), Config{Targets: []string{tt.give}, Rate: 1000, Count: 4, Timeout: 200 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			if got.Sent != 4 || got.Failed != 4 || got.LastError == "" {
				t.Errorf("totals %+v, want 4 failed with an error", got)
			}
		})
	}
}

// TestRunReusesConnections checks that the checks share pooled
// connections: no more are opened than requests run at once.
func TestRunReusesConnections(t *testing.T) {
	var opened atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"allowed": true, "current_count": 1, "remaining": 9}`))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	got, err := Run(t.Context(), Config{Targets: []string{srv.URL}, Rate: 1000, Count: 100, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got.Sent != 100 || got.Allowed != 100 {
		t.Errorf("totals %+v, want 100 allowed", got)
	}
	if n := opened.Load(); n > 2 {
		t.Errorf("%d connections opened for 100 checks, want at most 2 (the concurrency)", n)
	}
}

func TestValidate(t *testing.T) {
	ok := Config{Targets: []string{"http://127.0.0.1:8000"}, Rate: 1}
	tests := []struct {
		name string
		give func(*Config)
		want string
	}{
		{name: "no targets", give: func(c *Config) { c.Targets = nil }, want: "no targets"},
		{name: "bad target", give: func(c *Config) { c.Targets = []string{"127.0.0.1:8000"} }, want: "not an http(s) base URL"},
		{name: "nothing to send", give: func(c *Config) { c.Rate = 0 }, want: "nothing to send"},
		{name: "negative rate", give: func(c *Config) { c.Rate = -1 }, want: "negative"},
		{name: "hot share above 1", give: func(c *Config) { c.HotShare = 1.5; c.HotKeys = 1 }, want: "outside [0, 1]"},
		{name: "hot share without keys", give: func(c *Config) { c.HotShare = 0.5 }, want: "hot key"},
		{name: "negative count", give: func(c *Config) { c.Count = -1 }, want: "count"},
		{name: "target with a query", give: func(c *Config) { c.Targets = []string{"http://127.0.0.1:8000?a=b"} }, want: "not an http(s) base URL"},
		{name: "zero window", give: func(c *Config) { c.WindowMS = ptr(0) }, want: "window 0 ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.give(&c)
			_, err := Run(t.Context(), c)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
	if err := ok.withDefaults().Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

func TestKeyChoice(t *testing.T) {
	tests := []struct {
		name string
		give Config
		want func(string) error
	}{
		{
			name: "pool only",
			give: Config{Keys: 3, KeyPrefix: "p-"},
			want: oneOf("p-key-0", "p-key-1", "p-key-2"),
		},
		{
			name: "hot only",
			give: Config{Keys: 3, HotShare: 1, HotKeys: 2},
			want: oneOf("hot-0", "hot-1"),
		},
		{
			name: "fresh",
			give: Config{FreshKeys: true, KeyPrefix: "f-"},
			want: func(k string) error {
				if !strings.HasPrefix(k, "f-fresh-") {
					return errors.New("not a fresh key")
				}
				return nil
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newKeyGen(tt.give.withDefaults())
			seen := map[string]bool{}
			for range 200 {
				k := g.next()
				if err := tt.want(k); err != nil {
					t.Fatalf("key %q: %v", k, err)
				}
				seen[k] = true
			}
			if tt.give.FreshKeys && len(seen) != 200 {
				t.Errorf("%d distinct fresh keys of 200", len(seen))
			}
		})
	}
}

func oneOf(keys ...string) func(string) error {
	return func(k string) error {
		for _, want := range keys {
			if k == want {
				return nil
			}
		}
		return fmt.Errorf("not one of %q", keys)
	}
}
