package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/observerd/observerd/internal/loadgen"
	"github.com/observerd/observerd/internal/snapshot"
)

// rateTolerance is how far observerd's rates, read from Prometheus over a
// 10 s window scraped every second, may stray from the load generator's own
// count: a window edge moves by up to one scrape, and rate() extrapolates.
const rateTolerance = 0.25

// TestClusterObserved watches a real cluster under load from all three
// sides, then breaks one endpoint, one node and Prometheus in turn.
func TestClusterObserved(t *testing.T) {
	c := startCluster(t, clusterOptions{nodes: 3, prometheus: true})
	const rate = 60.0
	start := time.Now()
	stopLoad := c.load(loadgen.Config{Rate: rate, HotShare: 0.5, HotKeys: 2, Keys: 40, KeyPrefix: "e2e-", Seed: 7})
	// The sidecar knows only node-1; the others come from the registry.
	d := startDaemon(t, c.observerdEnv()...)
	d.waitReady(t, 30*time.Second)

	s := d.waitSnapshot(t, 40*time.Second, "three nodes with latency and rates", func(s *snapshot.Snapshot) error {
		if len(s.Nodes) != 3 {
			return fmt.Errorf("%d nodes", len(s.Nodes))
		}
		for _, n := range s.Nodes {
			if !n.Registered || !n.Reachable || !n.HealthLatency.Valid || !n.CheckLatencyP99.Valid || !n.AllowedPerSecond.Valid() || !n.BlockedPerSecond.Valid() {
				return fmt.Errorf("node %+v", n)
			}
		}
		if !s.Traffic.AllowedPerSecond.Valid() || !s.Traffic.BlockedPerSecond.Valid() {
			return fmt.Errorf("traffic %+v", s.Traffic)
		}
		// Wait for a full 10 s rate window of steady load.
		if time.Since(start) < 15*time.Second {
			return errors.New("load younger than the rate window")
		}
		return nil
	})
	for i, n := range s.Nodes {
		if want := c.nodes[i]; n.ID != want.id || n.Address != want.Addr() || n.RegisteredAt == nil {
			t.Errorf("node %d = %+v, want %s at %s with registered_at", i, n, want.id, want.Addr())
		}
	}
	if s.Limits.DefaultLimit != 10 || s.Limits.DefaultWindow != snapshot.Milliseconds(time.Minute) || s.Limits.DefaultsFrom != "api" {
		t.Errorf("limits = %+v, want the nodes' 10 per 60000 ms", s.Limits)
	}

	// Rates against the load generator's own count over the same time.
	elapsed := time.Since(start)
	total := stopLoad()
	sent := float64(total.Allowed+total.Blocked) / elapsed.Seconds()
	seen := float64(s.Traffic.AllowedPerSecond) + float64(s.Traffic.BlockedPerSecond)
	if math.Abs(seen-sent) > rateTolerance*sent {
		t.Errorf("traffic %.1f/s, load generator %.1f/s: more than %.0f%% apart", seen, sent, rateTolerance*100)
	}
	wantShare := float64(total.Blocked) / float64(total.Allowed+total.Blocked)
	if share := float64(s.Traffic.BlockedPerSecond) / seen; math.Abs(share-wantShare) > 0.1 {
		t.Errorf("blocked share %.2f, load generator %.2f", share, wantShare)
	}
	if total.Failed != 0 {
		t.Errorf("load generator: %d failed requests, last: %s", total.Failed, total.LastError)
	}
	t.Logf("load generator: %d allowed, %d blocked in %s (%.1f/s); observerd: %.1f allowed/s, %.1f blocked/s",
		total.Allowed, total.Blocked, elapsed.Round(time.Second), sent, s.Traffic.AllowedPerSecond, s.Traffic.BlockedPerSecond)

	// With the load stopped, the counters equal what Redis holds.
	keys, inWindow := countRedis(t, c.rdb)
	s = d.waitSnapshot(t, 10*time.Second, "counters equal to Redis", func(s *snapshot.Snapshot) error {
		if s.Counters.Keys != keys || s.Counters.RequestsInWindow != inWindow {
			return fmt.Errorf("counters %d keys %d requests, Redis %d keys %d requests", s.Counters.Keys, s.Counters.RequestsInWindow, keys, inWindow)
		}
		return nil
	})
	if total.Allowed != inWindow {
		t.Errorf("Redis holds %d requests in window, the load generator was allowed %d", inWindow, total.Allowed)
	}
	if len(s.Counters.Top) == 0 || s.Counters.Top[0].APICount == nil {
		t.Errorf("top keys without api_count: %+v", s.Counters.Top)
	}
	m := d.metrics(t)
	if got := metricLine(m, "observerd_counter_keys"); got != fmt.Sprint(keys) {
		t.Errorf("observerd_counter_keys = %q, want %d", got, keys)
	}
	if got := metricLine(m, `observerd_node_up{address="`+c.nodes[2].Addr()+`",node="node-3"}`); got != "1" {
		t.Errorf("observerd_node_up of node-3 = %q", got)
	}

	t.Run("endpoint answering 500", func(t *testing.T) {
		c.nodes[1].node.SetFailing("/api/counters", true)
		key := c.nodes[1].Addr() + " /api/counters"
		s := d.waitSnapshot(t, 10*time.Second, "the failing endpoint reported", func(s *snapshot.Snapshot) error {
			if _, ok := s.Sources["ratelimiter"].Errors[key]; !ok {
				return fmt.Errorf("errors %v", s.Sources["ratelimiter"].Errors)
			}
			return nil
		})
		if st := s.Sources["ratelimiter"]; st.Status != snapshot.StatusOK || len(st.Errors) != 1 || !strings.Contains(st.Errors[key], "500") {
			t.Errorf("ratelimiter source = %+v, want ok with one endpoint error naming 500", st)
		}
		for _, n := range s.Nodes {
			if !n.Reachable {
				t.Errorf("node %s unreachable while only one endpoint fails", n.ID)
			}
		}
		if s.Limits.DefaultsFrom != "api" {
			t.Error("limits lost while /api/counters fails")
		}
		c.nodes[1].node.SetFailing("/api/counters", false)
		d.waitSnapshot(t, 10*time.Second, "the endpoint error cleared", func(s *snapshot.Snapshot) error {
			if errs := s.Sources["ratelimiter"].Errors; len(errs) != 0 {
				return fmt.Errorf("errors %v", errs)
			}
			return nil
		})
	})

	t.Run("node stopped", func(t *testing.T) {
		c.stopNode(2)
		d.waitSnapshot(t, 10*time.Second, "node-3 unreachable", func(s *snapshot.Snapshot) error {
			for _, n := range s.Nodes {
				if n.ID == "node-3" && !n.Reachable {
					return nil
				}
			}
			return fmt.Errorf("nodes %+v", s.Nodes)
		})
		c.startNode(2)
		d.waitSnapshot(t, 10*time.Second, "node-3 back", func(s *snapshot.Snapshot) error {
			for _, n := range s.Nodes {
				if n.ID == "node-3" && n.Reachable && n.Registered {
					return nil
				}
			}
			return fmt.Errorf("nodes %+v", s.Nodes)
		})
	})

	t.Run("prometheus stopped", func(t *testing.T) {
		c.prom.Stop()
		s := d.waitSnapshot(t, 10*time.Second, "prometheus stale", func(s *snapshot.Snapshot) error {
			if st := s.Sources["prometheus"]; st.Status != snapshot.StatusStale || st.Error == "" {
				return fmt.Errorf("prometheus source %+v", st)
			}
			return nil
		})
		if !s.Nodes[0].CheckLatencyP99.Valid {
			t.Error("the last good P99 is gone while Prometheus is down")
		}
		if st := s.Sources["redis"]; st.Status != snapshot.StatusOK {
			t.Errorf("redis source %+v while only Prometheus is down", st)
		}
		if got := metricLine(d.metrics(t), `observerd_source_up{source="prometheus"}`); got != "0" {
			t.Errorf(`observerd_source_up{source="prometheus"} = %q`, got)
		}
		c.prom.Start(t)
		d.waitSnapshot(t, 30*time.Second, "prometheus back", func(s *snapshot.Snapshot) error {
			if st := s.Sources["prometheus"]; st.Status != snapshot.StatusOK {
				return fmt.Errorf("prometheus source %+v", st)
			}
			return nil
		})
	})
}

// countRedis counts the counter keys and their in-window requests directly
// (every counter here uses the default 60 s window).
func countRedis(t *testing.T, rdb *goredis.Client) (keys, inWindow int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	now, err := rdb.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	min := fmt.Sprint(now.UnixMilli() - 60000)
	iter := rdb.Scan(ctx, 0, "ratelimit:*", 1000).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		if strings.HasSuffix(k, ":seq") || strings.HasPrefix(k, "ratelimit:limit:") {
			continue
		}
		n, err := rdb.ZCount(ctx, k, min, "+inf").Result()
		if err != nil {
			t.Fatalf("ZCOUNT %s: %v", k, err)
		}
		keys++
		inWindow += n
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return keys, inWindow
}
