package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/observerd/observerd/internal/loadgen"
	"github.com/observerd/observerd/internal/snapshot"
)

// silenceWatch is how long TestSilenceUnderLoad watches a healthy cluster
// under load; make soak watches ten minutes.
const silenceWatch = 40 * time.Second

// TestSilenceUnderLoad: a healthy cluster under the load generator's mixes
// raises no violation and leaves no invariant unknown. The mixes: three hot
// keys taking about 200 checks a second between them (each well under half
// of the cluster's checks), regular keys at their limit, bursts, a key
// growing by a hundred a second under a limit of its own (the case where a
// node and Redis read a moment apart used to differ), a stream of fresh
// short-lived keys, and one node restarted in the middle. Grace periods are
// short, so that a condition that holds only a few seconds shows; node_down
// waits five seconds, as a sidecar that should not page for a planned
// restart would.
func TestSilenceUnderLoad(t *testing.T) {
	c := startCluster(t, clusterOptions{nodes: 3, prometheus: true})
	grow := int64(5000)
	if err := c.rdb.HSet(context.Background(), "ratelimit:limit:grow-key-0", "limit", grow, "window_ms", 60000).Err(); err != nil {
		t.Fatal(err)
	}
	fresh := int64(10_000)
	totals := []func() loadgen.Totals{
		c.load(loadgen.Config{Rate: 300, Keys: 30, HotShare: 0.7, HotKeys: 3, BurstEvery: 5 * time.Second, BurstSize: 100,
			KeyPrefix: "mix-", Seed: 5, Concurrency: 32}),
		c.load(loadgen.Config{Rate: 100, Keys: 1, Limit: &grow, KeyPrefix: "grow-", Seed: 6}),
		c.load(loadgen.Config{Rate: 40, FreshKeys: true, WindowMS: &fresh, KeyPrefix: "fresh-", Seed: 7}),
	}
	d := startDaemon(t, c.observerdEnv(
		"OBSERVERD_HIGH_LATENCY_THRESHOLD="+latencyThreshold.String(),
		"OBSERVERD_HIGH_LATENCY_GRACE=10s",
		"OBSERVERD_COUNTER_DRIFT_GRACE=5s",
		"OBSERVERD_HOT_KEY_GRACE=10s",
		"OBSERVERD_OVER_THROTTLING_GRACE=10s",
		"OBSERVERD_REDIS_SLOW_GRACE=15s",
		"OBSERVERD_NODE_DOWN_GRACE=5s",
		"OBSERVERD_STALE_AFTER="+staleAfter.String(),
	)...)
	d.waitReady(t, 30*time.Second)
	first := d.waitSnapshot(t, 60*time.Second, "every source fresh, the traffic rates in, nothing unknown", func(s *snapshot.Snapshot) error {
		if !s.Traffic.AllowedPerSecond.Valid() {
			return fmt.Errorf("no traffic rate yet")
		}
		return healthy(s)
	})

	restarted := false
	var seen, worstKeys int64
	deadline := first.GeneratedAt.Add(silenceWatch)
	for {
		s := d.snapshot(t)
		seen++
		worstKeys = max(worstKeys, s.Counters.Keys)
		for _, v := range s.Violations {
			t.Errorf("snapshot %d (+%s): violation %s{%s}: %s\n  evidence: %+v", s.Sequence,
				s.GeneratedAt.Sub(first.GeneratedAt).Round(time.Millisecond), v.Invariant, v.Subject, v.Message, v.Evidence)
		}
		for _, u := range s.Unknown {
			t.Errorf("snapshot %d: invariant %s unknown: %s", s.Sequence, u.Invariant, u.Reason)
		}
		if t.Failed() || s.GeneratedAt.After(deadline) {
			break
		}
		if !restarted && s.GeneratedAt.Sub(first.GeneratedAt) > silenceWatch/2 {
			c.stopNode(2)
			c.startNode(2)
			restarted = true
		}
		d.waitSnapshot(t, 10*time.Second, "the next snapshot", func(n *snapshot.Snapshot) error {
			if n.Sequence <= s.Sequence {
				return fmt.Errorf("still snapshot %d", n.Sequence)
			}
			return nil
		})
	}
	var sum loadgen.Totals
	for _, stop := range totals {
		tot := stop()
		sum.Sent, sum.Blocked, sum.Failed = sum.Sent+tot.Sent, sum.Blocked+tot.Blocked, sum.Failed+tot.Failed
	}
	t.Logf("watched %d snapshots over %s: %d checks sent (%.0f%% blocked, %d failed: the node restart), up to %d keys; %s",
		seen, silenceWatch, sum.Sent, 100*float64(sum.Blocked)/float64(max(1, sum.Sent)), sum.Failed, worstKeys,
		strings.TrimSpace(metricLine(d.metrics(t), "observerd_invariant_violations{")))
}
