package ratelimiter

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/observerd/observerd/internal/testenv"
	"github.com/observerd/observerd/internal/timestamp"
)

func testutilGauge(g prometheus.Gauge) float64 { return testutil.ToFloat64(g) }

func TestHeartbeatRegistry(t *testing.T) {
	r := testenv.StartRedis(t)
	tn := startNode(t, r, func(c *Config) {
		c.NodeID = "node-hb"
		c.Heartbeat = Seconds(50 * time.Millisecond)
		c.NodeTTL = Seconds(3 * time.Second)
	})
	ctx := t.Context()
	key := "ratelimiter:nodes:node-hb"
	var entry map[string]string
	testenv.WaitFor(t, 5*time.Second, "the registry entry", func() error {
		entry = tn.rdb.HGetAll(ctx, key).Val()
		if len(entry) == 0 {
			return errors.New("no entry yet")
		}
		return nil
	})
	if want := fmt.Sprintf("127.0.0.1:%d", tn.port); entry["address"] != want {
		t.Errorf("address %q, want %q", entry["address"], want)
	}
	ttl := tn.rdb.PTTL(ctx, key).Val()
	if ttl <= 0 || ttl > 3*time.Second {
		t.Errorf("registry TTL %s, want in (0, 3s]", ttl)
	}
	at := entry["registered_at"]
	if strings.ContainsAny(at, "Z+") || strings.Count(at, "-") != 2 {
		t.Errorf("registered_at %q carries an offset, want naive local time", at)
	}
	parsed, err := timestamp.Parse(at, time.Local)
	if err != nil {
		t.Fatalf("registered_at %q: %v", at, err)
	}
	if d := time.Since(parsed); d < 0 || d > time.Minute {
		t.Errorf("registered_at %s is %s from now", parsed, d)
	}

	// A heartbeat restores a deleted entry with the same start time.
	tn.rdb.Del(ctx, key)
	testenv.WaitFor(t, 5*time.Second, "the entry to come back", func() error {
		if got := tn.rdb.HGet(ctx, key, "registered_at").Val(); got != at {
			return fmt.Errorf("registered_at %q", got)
		}
		return nil
	})

	// /api/nodes lists every entry, foreign ones too, all "Up".
	tn.rdb.HSet(ctx, "ratelimiter:nodes:other", "address", "10.0.0.2:8000")
	nodes := list(t, tn.do(t, http.MethodGet, "/api/nodes", nil).body, "nodes")
	byID := map[string]map[string]any{}
	for _, n := range nodes {
		byID[n["id"].(string)] = n
	}
	if n := byID["node-hb"]; n == nil || n["state"] != "Up" || n["registered_at"] != at || n["address"] != entry["address"] {
		t.Errorf("own entry %v", n)
	}
	if n := byID["other"]; n == nil || n["state"] != "Up" || n["registered_at"] != nil {
		t.Errorf("foreign entry %v, want Up with registered_at null", n)
	}

	// Shutdown leaves the entry to expire.
	if err := tn.stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
	if tn.rdb.Exists(ctx, key).Val() != 1 {
		t.Error("registry entry deleted at shutdown, want it left to expire")
	}
	if got := testutilGauge(tn.metrics.nodeUp); got != 0 {
		t.Errorf("ratelimiter_node_up %v after stop, want 0", got)
	}
}

func TestHealth(t *testing.T) {
	tn := startNode(t, nil, func(c *Config) { c.NodeID = "n-7" })
	a := tn.do(t, http.MethodGet, "/health", nil)
	if a.status != http.StatusOK || a.body["status"] != "healthy" || a.body["node_id"] != "n-7" {
		t.Errorf("/health %d %s", a.status, a.raw)
	}
}

func TestChaosFailingEndpoints(t *testing.T) {
	tn := startNode(t, nil, func(c *Config) { c.ChaosFailEndpoints = []string{"/api/blocks"} })
	tests := []struct {
		name   string
		fail   []string
		repair []string
		want   map[string]int
	}{
		{
			name: "from config",
			want: map[string]int{"/api/blocks": 500, "/api/counters": 200, "/health": 200},
		},
		{
			name:   "at runtime",
			fail:   []string{"/api/counters", "/api/counters/{key}/reset"},
			repair: []string{"/api/blocks"},
			want:   map[string]int{"/api/blocks": 200, "/api/counters": 500, "/api/nodes": 200},
		},
		{
			name:   "repaired",
			repair: []string{"/api/counters"},
			want:   map[string]int{"/api/counters": 200},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, p := range tt.fail {
				tn.SetFailing(p, true)
			}
			for _, p := range tt.repair {
				tn.SetFailing(p, false)
			}
			for path, want := range tt.want {
				a := tn.do(t, http.MethodGet, path, nil)
				if a.status != want {
					t.Errorf("%s: status %d, want %d", path, a.status, want)
				}
				if want == 500 {
					if d, _ := a.body["detail"].(string); d == "" {
						t.Errorf("%s: body %s, want a detail", path, a.raw)
					}
				}
			}
		})
	}
	if a := tn.do(t, http.MethodPost, "/api/counters/x/reset", nil); a.status != 500 {
		t.Errorf("reset by route pattern: status %d, want 500", a.status)
	}
}

func TestChaosCheckDelayObserved(t *testing.T) {
	tn := startNode(t, nil, nil)
	for range 3 {
		tn.check(t, map[string]any{"key": "fast", "limit": 2})
	}
	tn.SetCheckDelay(30 * time.Millisecond)
	start := time.Now()
	tn.check(t, map[string]any{"key": "slow", "limit": 1})
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Errorf("delayed check took %s, want at least 30ms", d)
	}
	tn.SetCheckDelay(0)

	// Every check is observed, blocked ones too, and the slow one lands
	// above the 25 ms bucket.
	want := `
# HELP ratelimiter_requests_checked_total Rate limit checks by result.
# TYPE ratelimiter_requests_checked_total counter
ratelimiter_requests_checked_total{result="allowed"} 3
ratelimiter_requests_checked_total{result="blocked"} 1
`
	if err := testutil.GatherAndCompare(tn.Gatherer(), strings.NewReader(want), "ratelimiter_requests_checked_total"); err != nil {
		t.Error(err)
	}
	mfs, err := tn.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "ratelimiter_check_duration_seconds" {
			continue
		}
		h := mf.GetMetric()[0].GetHistogram()
		if h.GetSampleCount() != 4 {
			t.Errorf("histogram count %d, want 4", h.GetSampleCount())
		}
		if h.GetSampleSum() < 0.03 {
			t.Errorf("histogram sum %v, want the 30ms delay in it", h.GetSampleSum())
		}
		var bounds []float64
		for _, b := range h.GetBucket() {
			bounds = append(bounds, b.GetUpperBound())
			if b.GetUpperBound() == 0.025 && b.GetCumulativeCount() > 3 {
				t.Errorf("the delayed check fell into le=0.025")
			}
		}
		if fmt.Sprint(bounds) != "[0.001 0.005 0.01 0.025 0.05 0.1 0.25 0.5 1]" {
			t.Errorf("buckets %v", bounds)
		}
	}
	if err := testutil.GatherAndCompare(tn.Gatherer(), strings.NewReader(`
# HELP ratelimiter_node_up 1 while the node serves.
# TYPE ratelimiter_node_up gauge
ratelimiter_node_up 1
`), "ratelimiter_node_up"); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.GatherAndLint(tn.Gatherer()); err != nil || len(problems) != 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
	a := tn.do(t, http.MethodGet, "/metrics", nil)
	for _, name := range []string{"ratelimiter_requests_checked_total", "ratelimiter_check_duration_seconds_bucket", "ratelimiter_node_up", "ratelimiter_active_counters"} {
		if !strings.Contains(string(a.raw), name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}

func TestIsoformat(t *testing.T) {
	loc := time.FixedZone("X", 3600)
	tests := []struct {
		give time.Time
		want string
	}{
		{give: time.Date(2026, 1, 27, 1, 48, 37, 123456789, loc), want: "2026-01-27T01:48:37.123456"},
		{give: time.Date(2026, 1, 27, 1, 48, 37, 1000, loc), want: "2026-01-27T01:48:37.000001"},
		{give: time.Date(2026, 1, 27, 1, 48, 37, 999, loc), want: "2026-01-27T01:48:37"},
	}
	for _, tt := range tests {
		if got := isoformat(tt.give); got != tt.want {
			t.Errorf("isoformat(%s) = %q, want %q", tt.give, got, tt.want)
		}
	}
}
