package ratelimiter

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/observerd/observerd/internal/testenv"
)

// seedCounter writes a counter the way checks do: n members at atMS, and
// its sequence key.
func seedCounter(t *testing.T, rdb *redis.Client, key string, n int, atMS int64) {
	t.Helper()
	ctx := t.Context()
	for i := range n {
		seq := rdb.Incr(ctx, "ratelimit:"+key+":seq").Val()
		member := strconv.FormatInt(atMS, 10) + ":" + strconv.FormatInt(seq, 10)
		if err := rdb.ZAdd(ctx, "ratelimit:"+key, redis.Z{Score: float64(atMS), Member: member}).Err(); err != nil {
			t.Fatalf("seed %s member %d: %v", key, i, err)
		}
	}
}

func TestCountersSampleInScanOrder(t *testing.T) {
	tn := startNode(t, nil, nil)
	now := time.Now().UnixMilli()
	for i := range 150 {
		seedCounter(t, tn.rdb, fmt.Sprintf("k%03d", i), 1+i%3, now)
	}
	if err := tn.rdb.HSet(t.Context(), "ratelimit:limit:k000", "limit", "7", "window_ms", "1000").Err(); err != nil {
		t.Fatal(err)
	}

	// The node answers with the first 100 counters of a SCAN walk, as the
	// test's own walk finds them. Redis rehashes the keyspace in the
	// background after the seeding, which may reorder SCAN between the two
	// walks, so both are taken again until they agree.
	var counters []map[string]any
	var want []string
	testenv.WaitFor(t, 10*time.Second, "the node's sample equal to a SCAN walk", func() error {
		a := tn.do(t, http.MethodGet, "/api/counters", nil)
		if a.status != http.StatusOK {
			t.Fatalf("status %d (%s)", a.status, a.raw)
		}
		counters = list(t, a.body, "counters")
		if len(counters) != 100 {
			t.Fatalf("%d counters, want the cap of 100", len(counters))
		}
		want = scanCounters(t, tn.rdb, 100)
		for i, c := range counters {
			if c["key"] != want[i] {
				return fmt.Errorf("counter %d is %v, want %q (SCAN order)", i, c["key"], want[i])
			}
		}
		return nil
	})
	for i, c := range counters {
		var idx int
		if _, err := fmt.Sscanf(want[i], "k%03d", &idx); err != nil {
			t.Fatalf("unexpected key %q", want[i])
		}
		wantCount := int64(1 + idx%3)
		wantLimit := int64(100)
		if idx == 0 {
			wantLimit = 7
		}
		if got := num(t, c, "count"); got != wantCount {
			t.Errorf("%s count %d, want %d", want[i], got, wantCount)
		}
		if got := num(t, c, "limit"); got != wantLimit {
			t.Errorf("%s limit %d, want %d", want[i], got, wantLimit)
		}
		if got := num(t, c, "remaining"); got != wantLimit-wantCount {
			t.Errorf("%s remaining %d, want %d", want[i], got, wantLimit-wantCount)
		}
	}
	if got := testutilGauge(tn.metrics.activeCounters); got != 100 {
		t.Errorf("ratelimiter_active_counters %v, want 100", got)
	}
}

// scanCounters walks SCAN as the node does: sequence keys and override
// hashes skipped, the first n counters.
func scanCounters(t *testing.T, rdb *redis.Client, n int) []string {
	t.Helper()
	var want []string
	var cursor uint64
	for len(want) < n {
		keys, next, err := rdb.Scan(t.Context(), cursor, "ratelimit:*", scanCount).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if len(want) < n && !isSeqOrOverride(k) {
				want = append(want, k[len("ratelimit:"):])
			}
		}
		if next == 0 {
			break
		}
		cursor = next
	}
	return want
}

func isSeqOrOverride(k string) bool {
	return len(k) > 4 && k[len(k)-4:] == ":seq" || len(k) > 16 && k[:16] == "ratelimit:limit:"
}

func TestCountersWindowAndClock(t *testing.T) {
	tn := startNode(t, nil, func(c *Config) { c.DefaultWindowMS = 60000 })
	now := time.Now().UnixMilli()
	seedCounter(t, tn.rdb, "old", 2, now-30000)
	seedCounter(t, tn.rdb, "old", 1, now)
	seedCounter(t, tn.rdb, "short", 2, now-30000)
	seedCounter(t, tn.rdb, "short", 1, now)
	// The override's window counts only the recent member.
	if err := tn.rdb.HSet(t.Context(), "ratelimit:limit:short", "limit", "2", "window_ms", "10000").Err(); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		offset time.Duration
		want   map[string][2]int64 // key -> count, remaining
	}{
		{name: "now", want: map[string][2]int64{"old": {3, 97}, "short": {1, 1}}},
		{name: "clock 45s ahead", offset: 45 * time.Second, want: map[string][2]int64{"old": {1, 99}, "short": {0, 2}}},
		{name: "clock 2m ahead", offset: 2 * time.Minute, want: map[string][2]int64{"old": {0, 100}, "short": {0, 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tn.SetClockOffset(tt.offset)
			got := byKey(list(t, tn.do(t, http.MethodGet, "/api/counters", nil).body, "counters"))
			for k, want := range tt.want {
				c, ok := got[k]
				if !ok {
					t.Fatalf("counter %q missing", k)
				}
				if num(t, c, "count") != want[0] || num(t, c, "remaining") != want[1] {
					t.Errorf("%s: %v, want count %d remaining %d", k, c, want[0], want[1])
				}
			}
		})
	}
	// Counting does not prune.
	if n := tn.rdb.ZCard(t.Context(), "ratelimit:old").Val(); n != 3 {
		t.Errorf("ZCARD %d after counting, want 3", n)
	}
}

func TestOverrideShownNotEnforced(t *testing.T) {
	tn := startNode(t, nil, nil)
	a := tn.do(t, http.MethodPut, "/api/limits/vip", map[string]any{"limit": 2, "window_ms": 5000})
	if a.status != http.StatusOK {
		t.Fatalf("PUT status %d (%s)", a.status, a.raw)
	}
	if a.body["key"] != "vip" || num(t, a.body, "limit") != 2 || num(t, a.body, "window_ms") != 5000 || a.body["updated"] != true {
		t.Errorf("PUT answered %s", a.raw)
	}
	if h := tn.rdb.HGetAll(t.Context(), "ratelimit:limit:vip").Val(); h["limit"] != "2" || h["window_ms"] != "5000" {
		t.Errorf("override hash %v", h)
	}

	// Quirk: /check applies the request's limit, not the override.
	for i := range 4 {
		if a := tn.check(t, map[string]any{"key": "vip", "limit": 10}); a.status != http.StatusOK {
			t.Fatalf("check %d: status %d, want 200 despite the override", i+1, a.status)
		}
	}
	c := byKey(list(t, tn.do(t, http.MethodGet, "/api/counters", nil).body, "counters"))["vip"]
	if num(t, c, "count") != 4 || num(t, c, "limit") != 2 || num(t, c, "remaining") != 0 {
		t.Errorf("counter %v, want count 4 over its shown limit 2, remaining 0", c)
	}

	a = tn.do(t, http.MethodPut, "/api/limits/plain", map[string]any{"limit": 0})
	if a.status != http.StatusOK || num(t, a.body, "window_ms") != 60000 || num(t, a.body, "limit") != 0 {
		t.Errorf("PUT without window: %d %s, want the default window", a.status, a.raw)
	}
	for _, give := range []string{`{}`, `{"limit": "x"}`, `nope`} {
		if a := tn.do(t, http.MethodPut, "/api/limits/bad", give); a.status != http.StatusUnprocessableEntity {
			t.Errorf("PUT %s: status %d, want 422", give, a.status)
		}
	}
	limits := tn.do(t, http.MethodGet, "/api/limits", nil)
	if num(t, limits.body, "default_limit") != 100 || num(t, limits.body, "default_window_ms") != 60000 {
		t.Errorf("/api/limits %s", limits.raw)
	}
}

func TestBlocksJudgeByDefaultLimitOnly(t *testing.T) {
	tn := startNode(t, nil, func(c *Config) { c.DefaultLimit = 3 })
	now := time.Now().UnixMilli()
	seedCounter(t, tn.rdb, "at-default", 3, now)
	seedCounter(t, tn.rdb, "over-own", 2, now)
	seedCounter(t, tn.rdb, "raised", 5, now)
	seedCounter(t, tn.rdb, "quiet", 1, now)
	ctx := t.Context()
	tn.rdb.HSet(ctx, "ratelimit:limit:over-own", "limit", "1", "window_ms", "60000")
	tn.rdb.HSet(ctx, "ratelimit:limit:raised", "limit", "10", "window_ms", "60000")

	a := tn.do(t, http.MethodGet, "/api/blocks", nil)
	if a.status != http.StatusOK {
		t.Fatalf("status %d (%s)", a.status, a.raw)
	}
	got := byKey(list(t, a.body, "blocked"))
	want := map[string]int64{"at-default": 3, "raised": 5}
	if len(got) != len(want) {
		t.Errorf("blocked %v, want keys %v", got, want)
	}
	for k, count := range want {
		b, ok := got[k]
		if !ok {
			t.Errorf("%s not blocked", k)
			continue
		}
		if num(t, b, "current_count") != count || num(t, b, "limit") != 3 {
			t.Errorf("%s: %v, want count %d against the default limit 3", k, b, count)
		}
	}
}

func TestReset(t *testing.T) {
	tn := startNode(t, nil, nil)
	tn.check(t, map[string]any{"key": "gone", "limit": 5})
	tn.check(t, map[string]any{"key": "kept", "limit": 5})
	a := tn.do(t, http.MethodPost, "/api/counters/gone/reset", nil)
	if a.status != http.StatusOK || a.body["key"] != "gone" || a.body["reset"] != true {
		t.Fatalf("reset answered %d %s", a.status, a.raw)
	}
	if n := tn.rdb.Exists(t.Context(), "ratelimit:gone", "ratelimit:gone:seq").Val(); n != 0 {
		t.Errorf("%d of the sorted set and sequence key left", n)
	}
	if n := tn.rdb.Exists(t.Context(), "ratelimit:kept", "ratelimit:kept:seq").Val(); n != 2 {
		t.Errorf("other key touched: %d of 2 left", n)
	}
}

func TestRoutingErrors(t *testing.T) {
	tn := startNode(t, nil, nil)
	tests := []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/check", http.StatusMethodNotAllowed},
		{http.MethodPost, "/api/counters", http.StatusMethodNotAllowed},
		{http.MethodGet, "/api/limits/x", http.StatusMethodNotAllowed},
		{http.MethodGet, "/nope", http.StatusNotFound},
		{http.MethodPost, "/api/counters//reset", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.method+tt.path, func(t *testing.T) {
			a := tn.do(t, tt.method, tt.path, nil)
			if a.status != tt.want {
				t.Fatalf("status %d, want %d", a.status, tt.want)
			}
			if _, ok := a.body["detail"]; !ok {
				t.Errorf("body %s has no detail", a.raw)
			}
		})
	}
}
