package redis

import (
	"fmt"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/observerd/observerd/internal/testenv"
)

// TestCluster seeds a three-master cluster through a cluster client and
// reads it back through a Client that knows one seed address only.
func TestCluster(t *testing.T) {
	addrs := testenv.StartRedisCluster(t, 3).Addrs
	ctx := testContext(t)
	cc := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: addrs, Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { cc.Close() })
	now, err := cc.Time(ctx).Result()
	if err != nil {
		t.Fatalf("TIME: %v", err)
	}
	ms := float64(now.UnixMilli())
	const keys = 200
	pipe := cc.Pipeline()
	for i := range keys {
		k := fmt.Sprintf("ratelimit:user:%d", i)
		for j := range i%4 + 1 {
			pipe.ZAdd(ctx, k, goredis.Z{Score: ms - float64(j), Member: fmt.Sprintf("m%d", j)})
		}
		pipe.Expire(ctx, k, time.Minute)
		pipe.Set(ctx, k+":seq", "1", 0)
	}
	for i := range 5 {
		pipe.Set(ctx, fmt.Sprintf("ratelimit:gone:%d:seq", i), "1", 0)
	}
	pipe.HSet(ctx, "ratelimit:limit:user:1", "limit", "3", "window_ms", "1000")
	pipe.HSet(ctx, "ratelimiter:nodes:node-a", "address", "10.0.0.1:8000", "registered_at", "2026-01-27T01:48:37")
	pipe.HSet(ctx, "ratelimiter:nodes:node-b", "address", "10.0.0.2:8000", "registered_at", "2026-01-27T01:48:37Z")
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("seed: %v", err)
	}

	c := newTestClient(t, Options{ClusterAddrs: addrs[:1], ScanCount: 20, BatchSize: 16, WrapScan: testenv.ReplayPages[ScanFunc]})
	if !c.Cluster() {
		t.Fatal("Cluster() = false")
	}
	if _, err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	if want := int64(2*keys + 5 + 1 + 2); info.Servers != 3 || info.DBKeys != want || info.Role != "master" {
		t.Errorf("Info = %+v, want 3 servers and %d keys", info, want)
	}
	var total int64
	res, err := c.Walk(ctx, Pass{KeyPrefix: "ratelimit:", NodePrefix: "ratelimiter:nodes:", Window: func(string) time.Duration { return time.Minute }, Visit: func(cn Counter) { total += cn.Count }})
	if err != nil {
		t.Fatalf("Walk: %v", err)
	}
	if reg := res.Registry; len(reg) != 2 || reg[0].ID != "node-a" || reg[1].ID != "node-b" || reg[0].RegisteredAt == nil || reg[1].RegisteredAt == nil {
		t.Errorf("Registry = %+v", reg)
	}
	if ov := res.Overrides; len(ov.Overrides) != 1 || ov.Overrides[0] != (Override{Key: "user:1", Limit: 3, Window: time.Second}) {
		t.Errorf("Overrides = %+v", ov)
	}
	stats := res.Stats
	if len(res.Registry) != 2 || len(res.Overrides.Overrides) != 1 {
		t.Errorf("the walk read registry %+v and overrides %+v, want what Registry and Overrides read", res.Registry, res.Overrides)
	}
	// Sum over i of i%4+1 for 200 keys: 50 of each of 1, 2, 3, 4.
	if stats.Counters != keys || total != 500 || stats.SequenceKeys != keys+5 || stats.OrphanSequenceKeys != 5 ||
		stats.OverrideKeys != 1 || stats.Duplicates != stats.Counters+stats.SequenceKeys+stats.OverrideKeys+int64(len(res.Registry)) {
		t.Errorf("stats = %+v, total %d", stats, total)
	}
	counts, err := c.Counts(ctx, "ratelimit:", []string{"user:3", "user:7", "absent"}, nil)
	if err != nil || counts["user:3"] != 4 || counts["user:7"] != 4 || counts["absent"] != 0 {
		t.Errorf("Counts = %v, %v", counts, err)
	}
}
