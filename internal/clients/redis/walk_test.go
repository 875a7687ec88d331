package redis

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/observerd/observerd/internal/testenv"
)

const bulkKeys = 300

// seedWalk writes a small keyspace of every kind the walk tells apart and
// returns the server's clock at seeding time.
func seedWalk(t *testing.T, ctx context.Context, rc *goredis.Client) time.Time {
	t.Helper()
	now, err := rc.Time(ctx).Result()
	if err != nil {
		t.Fatalf("TIME: %v", err)
	}
	ms := now.UnixMilli()
	members := func(scores ...int64) []goredis.Z {
		var zs []goredis.Z
		for i, s := range scores {
			zs = append(zs, goredis.Z{Score: float64(s), Member: fmt.Sprintf("%d:%d", s, i)})
		}
		return zs
	}
	pipe := rc.Pipeline()
	// 8 requests in the default 60 s window, 3 older ones not yet pruned.
	pipe.ZAdd(ctx, "ratelimit:hot", members(ms-1000, ms-900, ms-800, ms-700, ms-600, ms-500, ms-400, ms-300, ms-120000, ms-130000, ms-140000)...)
	pipe.Expire(ctx, "ratelimit:hot", 61*time.Second)
	// An override with a 1 s window: 2 inside it, 4 only inside 60 s.
	pipe.ZAdd(ctx, "ratelimit:short", members(ms-500, ms-400, ms-5000, ms-6000, ms-7000, ms-8000)...)
	pipe.Expire(ctx, "ratelimit:short", 2*time.Second+time.Minute)
	pipe.HSet(ctx, "ratelimit:limit:short", "limit", "1", "window_ms", "1000")
	// No TTL at all.
	pipe.ZAdd(ctx, "ratelimit:persist", members(ms-10, ms-20)...)
	// Nothing left in the window.
	pipe.ZAdd(ctx, "ratelimit:old", members(ms-70000)...)
	pipe.Expire(ctx, "ratelimit:old", time.Minute)
	pipe.Set(ctx, "ratelimit:hot:seq", "11", 0)
	pipe.Set(ctx, "ratelimit:short:seq", "6", 0)
	pipe.Set(ctx, "ratelimit:gone:seq", "3", 0)
	pipe.Set(ctx, "ratelimit:gone2:seq", "3", 0)
	pipe.Set(ctx, "ratelimit:wrong", "a string", 0)
	pipe.Set(ctx, "other:key", "outside the prefix", 0)
	for i := range bulkKeys {
		k := fmt.Sprintf("ratelimit:bulk:%03d", i)
		pipe.ZAdd(ctx, k, members(ms-100)...)
		pipe.Expire(ctx, k, time.Minute)
		pipe.Set(ctx, k+":seq", "1", 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("seed: %v", err)
	}
	return now
}

func testWindow(key string) time.Duration {
	if key == "short" {
		return time.Second
	}
	return time.Minute
}

func TestWalk(t *testing.T) {
	srv := testenv.StartRedis(t)
	ctx := testContext(t)
	seeded := seedWalk(t, ctx, seedClient(t, srv.Addr, ""))

	const distinct = 4 + bulkKeys + 4 + bulkKeys + 1 + 1 // counters, seq, wrong type, override
	tests := []struct {
		name           string
		wrap           func(ScanFunc) ScanFunc
		wantDuplicates int64
	}{
		{name: "plain"},
		{name: "every page twice", wrap: testenv.ReplayPages[ScanFunc], wantDuplicates: distinct},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestClient(t, Options{URL: srv.URL, ScanCount: 50, BatchSize: 64, WrapScan: tt.wrap})
			got := map[string]Counter{}
			res, err := c.Walk(ctx, Pass{
				KeyPrefix: "ratelimit:",
				Window:    testWindow,
				Visit: func(cn Counter) {
					if _, dup := got[cn.Key]; dup {
						t.Errorf("key %q visited twice", cn.Key)
					}
					got[cn.Key] = cn
				},
			})
			if err != nil {
				t.Fatalf("Walk: %v", err)
			}
			stats := res.Stats
			wantStats := WalkStats{
				Counters:           4 + bulkKeys,
				SequenceKeys:       4 + bulkKeys,
				OrphanSequenceKeys: 2,
				OverrideKeys:       1,
				WrongTypeKeys:      1,
				Duplicates:         tt.wantDuplicates,
				ScanCalls:          stats.ScanCalls,
				Now:                stats.Now,
				BatchLatency:       stats.BatchLatency,
				ScannedKeys:        distinct + tt.wantDuplicates,
				Duration:           stats.Duration,
				Busy:               stats.Busy,
				PacedBy:            PacedByNothing,
				ServerTime:         stats.ServerTime,
				ServerTimeKnown:    true,
			}
			if stats.Duration <= 0 || stats.Busy <= 0 || stats.ServerTime <= 0 {
				t.Errorf("duration %v, busy %v, server time %v: want each measured", stats.Duration, stats.Busy, stats.ServerTime)
			}
			if stats.BatchLatency <= 0 {
				t.Errorf("stats.BatchLatency = %v, want the median round trip of its batches", stats.BatchLatency)
			}
			if stats != wantStats {
				t.Errorf("stats = %+v, want %+v", stats, wantStats)
			}
			if d := stats.Now.Sub(seeded); d < 0 || d > 10*time.Second {
				t.Errorf("stats.Now = %v, seeded at %v", stats.Now, seeded)
			}
			wantCounts := map[string]int64{"hot": 8, "short": 2, "persist": 2, "old": 0}
			for i := range bulkKeys {
				wantCounts[fmt.Sprintf("bulk:%03d", i)] = 1
			}
			if len(got) != len(wantCounts) {
				t.Errorf("visited %d keys, want %d", len(got), len(wantCounts))
			}
			for k, want := range wantCounts {
				if got[k].Count != want {
					t.Errorf("count of %q = %d, want %d", k, got[k].Count, want)
				}
			}
			if got["persist"].TTL != NoTTL {
				t.Errorf("persist TTL = %v, want NoTTL", got["persist"].TTL)
			}
			if ttl := got["hot"].TTL; ttl <= 50*time.Second || ttl > 61*time.Second {
				t.Errorf("hot TTL = %v, want just under 61s", ttl)
			}
		})
	}
}

func TestWalkSkipsVanishedKeys(t *testing.T) {
	srv := testenv.StartRedis(t)
	ctx := testContext(t)
	rc := seedClient(t, srv.Addr, "")
	seedWalk(t, ctx, rc)
	// Delete a key right after SCAN named it, as expiry may.
	vanish := func(next ScanFunc) ScanFunc {
		return func(ctx context.Context, cursor uint64) ([]string, uint64, error) {
			keys, n, err := next(ctx, cursor)
			if err == nil && slices.Contains(keys, "ratelimit:hot") {
				err = rc.Del(ctx, "ratelimit:hot").Err()
			}
			return keys, n, err
		}
	}
	c := newTestClient(t, Options{URL: srv.URL, WrapScan: vanish})
	visited := 0
	res, err := c.Walk(ctx, Pass{KeyPrefix: "ratelimit:", Window: testWindow, Visit: func(Counter) { visited++ }})
	if err != nil {
		t.Fatalf("Walk: %v", err)
	}
	stats := res.Stats
	if stats.Vanished != 1 || stats.Counters != 3+bulkKeys || visited != 3+bulkKeys {
		t.Errorf("stats = %+v, visited %d; want 1 vanished and %d counters", stats, visited, 3+bulkKeys)
	}
	// hot:seq lost its sorted set too.
	if stats.OrphanSequenceKeys != 3 {
		t.Errorf("OrphanSequenceKeys = %d, want 3", stats.OrphanSequenceKeys)
	}
}

func TestCounts(t *testing.T) {
	srv := testenv.StartRedis(t)
	ctx := testContext(t)
	seedWalk(t, ctx, seedClient(t, srv.Addr, ""))
	c := newTestClient(t, Options{URL: srv.URL, BatchSize: 2})
	got, err := c.Counts(ctx, "ratelimit:", []string{"hot", "short", "absent", "wrong", "old", "bulk:007"}, testWindow)
	if err != nil {
		t.Fatalf("Counts: %v", err)
	}
	want := map[string]int64{"hot": 8, "short": 2, "absent": 0, "wrong": 0, "old": 0, "bulk:007": 1}
	if len(got) != len(want) {
		t.Errorf("Counts = %v, want %v", got, want)
	}
	for k, w := range want {
		if n, ok := got[k]; !ok || n != w {
			t.Errorf("Counts[%q] = %d (present %v), want %d", k, n, ok, w)
		}
	}
}

func TestGlobEscape(t *testing.T) {
	tests := []struct {
		give string
		want string
	}{
		{give: "ratelimit:", want: "ratelimit:"},
		{give: "a*b?[c]\\", want: `a\*b\?\[c\]\\`},
	}
	for _, tt := range tests {
		if got := globEscape(tt.give); got != tt.want {
			t.Errorf("globEscape(%q) = %q, want %q", tt.give, got, tt.want)
		}
	}
}
