package redis

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/observerd/observerd/internal/testenv"
)

func TestWalkReadsEverythingInOnePass(t *testing.T) {
	srv := testenv.StartRedis(t)
	ctx := testContext(t)
	rc := seedClient(t, srv.Addr, "")
	seedWalk(t, ctx, rc)
	pipe := rc.Pipeline()
	pipe.HSet(ctx, "ratelimiter:nodes:node-1", "address", "10.0.0.1:8000", "registered_at", "2026-01-27T01:48:37+00:00")
	pipe.Expire(ctx, "ratelimiter:nodes:node-1", 20*time.Second)
	pipe.HSet(ctx, "ratelimit:limit:hot", "limit", "5")
	pipe.HSet(ctx, "ratelimit:limit:broken", "window_ms", "7")
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("seed: %v", err)
	}
	c := newTestClient(t, Options{URL: srv.URL, ScanCount: 50, BatchSize: 16})
	before := srv.CommandCalls(t, "scan")
	counted := 0
	res, err := c.Walk(ctx, Pass{KeyPrefix: "ratelimit:", NodePrefix: "ratelimiter:nodes:", Window: testWindow, Visit: func(Counter) { counted++ }})
	if err != nil {
		t.Fatalf("Walk: %v", err)
	}
	if got := srv.CommandCalls(t, "scan") - before; got != res.Stats.ScanCalls {
		t.Errorf("Redis ran %d SCAN, the walk says %d", got, res.Stats.ScanCalls)
	}
	// One cursor over the whole keyspace: ~700 keys at COUNT 50 is about
	// 15 pages, never the 45 of three passes.
	if keys := srvKeys(t, ctx, rc); res.Stats.ScanCalls > keys/50+8 {
		t.Errorf("%d SCAN calls for %d keys at COUNT 50: more than one pass", res.Stats.ScanCalls, keys)
	}
	if counted != 4+bulkKeys || res.Stats.Counters != int64(counted) {
		t.Errorf("counted %d, stats %+v; want %d counters", counted, res.Stats, 4+bulkKeys)
	}
	if len(res.Registry) != 1 || res.Registry[0].ID != "node-1" || res.Registry[0].Address != "10.0.0.1:8000" {
		t.Errorf("Registry = %+v, want node-1 at 10.0.0.1:8000", res.Registry)
	}
	wantOv := []Override{{Key: "hot", Limit: 5}, {Key: "short", Limit: 1, Window: time.Second}}
	if len(res.Overrides.Overrides) != 2 || res.Overrides.Overrides[0] != wantOv[0] || res.Overrides.Overrides[1] != wantOv[1] {
		t.Errorf("Overrides = %+v, want %+v", res.Overrides.Overrides, wantOv)
	}
	if res.Overrides.Malformed != 1 || res.Stats.OverrideKeys != 3 {
		t.Errorf("Malformed = %d, OverrideKeys = %d; want 1 and 3", res.Overrides.Malformed, res.Stats.OverrideKeys)
	}
	for key, want := range map[string]bool{"hot": true, "bulk:001": true, "wrong": false, "absent": false, "hot:seq": false} {
		if got := res.Counted(key); got != want {
			t.Errorf("Counted(%q) = %v, want %v", key, got, want)
		}
	}
}

func srvKeys(t *testing.T, ctx context.Context, rc *goredis.Client) int64 {
	t.Helper()
	n, err := rc.DBSize(ctx).Result()
	if err != nil {
		t.Fatalf("DBSIZE: %v", err)
	}
	return n
}

func TestScanPrefixes(t *testing.T) {
	tests := []struct {
		key, node string
		want      []string
	}{
		{"ratelimit:", "ratelimiter:nodes:", []string{"ratelimit"}},
		{"rl:", "rl:nodes:", []string{"rl:"}},
		{"counters:", "nodes:", []string{"counters:", "nodes:"}},
		{"ratelimit:", "", []string{"ratelimit:"}},
	}
	for _, tt := range tests {
		got := scanPrefixes(tt.key, tt.node)
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("scanPrefixes(%q, %q) = %q, want %q", tt.key, tt.node, got, tt.want)
		}
	}
}

func TestWalkWithPrefixesSharingNothing(t *testing.T) {
	srv := testenv.StartRedis(t)
	ctx := testContext(t)
	rc := seedClient(t, srv.Addr, "")
	pipe := rc.Pipeline()
	pipe.ZAdd(ctx, "counters:a", goredis.Z{Score: float64(time.Now().UnixMilli()), Member: "1"})
	pipe.HSet(ctx, "nodes:n1", "address", "h:1")
	pipe.Set(ctx, "elsewhere", "x", 0)
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("seed: %v", err)
	}
	c := newTestClient(t, Options{URL: srv.URL})
	res, err := c.Walk(ctx, Pass{KeyPrefix: "counters:", NodePrefix: "nodes:"})
	if err != nil {
		t.Fatalf("Walk: %v", err)
	}
	if res.Stats.Counters != 1 || len(res.Registry) != 1 || res.Stats.ScanCalls != 2 {
		t.Errorf("stats %+v, registry %+v; want 1 counter, 1 entry, 2 SCAN", res.Stats, res.Registry)
	}
}

func TestWalkPaced(t *testing.T) {
	srv := testenv.StartRedis(t)
	ctx := testContext(t)
	rc := seedClient(t, srv.Addr, "")
	seedWalk(t, ctx, rc)
	keys := srvKeys(t, ctx, rc)
	c := newTestClient(t, Options{URL: srv.URL, ScanCount: 100})
	const rate = 2000
	start := time.Now()
	if _, err := c.Walk(ctx, Pass{KeyPrefix: "ratelimit:", MaxKeysPerSecond: rate}); err != nil {
		t.Fatalf("Walk: %v", err)
	}
	// The last page waits until every key read fits the pace: the walk
	// cannot be quicker than that.
	if took, least := time.Since(start), time.Duration(float64(keys-100)/rate*float64(time.Second)); took < least {
		t.Errorf("walk of %d keys at %d/s took %v, less than %v", keys, rate, took, least)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := c.Walk(short, Pass{KeyPrefix: "ratelimit:", MaxKeysPerSecond: 10}); err == nil || !strings.Contains(err.Error(), "SCAN") {
		t.Errorf("a paced walk past its deadline: err = %v, want a SCAN error", err)
	}
}

// TestWaitPace: a page of keys waits for its share of the pace even when
// it is larger than the burst, and a context that ends stops the wait with
// its own error, not before it ends.
func TestWaitPace(t *testing.T) {
	tests := []struct {
		name     string
		pace     float64 // keys a second; 0: unpaced
		burst    int
		keys     int
		timeout  time.Duration // 0: none; <0: cancelled before
		wantErr  error
		atLeast  time.Duration
		lessThan time.Duration
	}{
		{name: "unpaced", keys: 1_000_000, lessThan: time.Second},
		{name: "within the burst", pace: 1000, burst: 100, keys: 50, atLeast: 50 * time.Millisecond, lessThan: 5 * time.Second},
		{name: "ten bursts", pace: 2000, burst: 10, keys: 100, atLeast: 50 * time.Millisecond, lessThan: 5 * time.Second},
		{name: "cancelled", pace: 1, burst: 10, keys: 10, timeout: -1, wantErr: context.Canceled, lessThan: time.Second},
		{name: "past the deadline", pace: 10, burst: 10, keys: 10, timeout: 100 * time.Millisecond, wantErr: context.DeadlineExceeded, atLeast: 100 * time.Millisecond, lessThan: 900 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			switch {
			case tt.timeout < 0:
				cancel()
			case tt.timeout > 0:
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			var wk walker
			if tt.pace > 0 {
				wk.pace = newPace(tt.pace, tt.burst)
			}
			start := time.Now()
			err := wk.waitPace(ctx, tt.keys)
			took := time.Since(start)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Errorf("waitPace = %v, want %v", err, tt.wantErr)
			}
			if took < tt.atLeast || took >= tt.lessThan {
				t.Errorf("waitPace of %d keys took %v, want at least %v and less than %v", tt.keys, took, tt.atLeast, tt.lessThan)
			}
		})
	}
}

func TestKeySet(t *testing.T) {
	s := newKeySet(0)
	const n = 5000
	for i := range uint64(n) {
		h := i * 0x9e3779b97f4a7c15
		if !s.add(h) {
			t.Fatalf("add(%d) said seen before", i)
		}
		if s.add(h) {
			t.Fatalf("add(%d) twice said new", i)
		}
		if i%2 == 0 {
			s.markFound(h)
		}
	}
	if s.n != n || len(s.slots) < n {
		t.Fatalf("n = %d, slots %d", s.n, len(s.slots))
	}
	for i := range uint64(n) {
		if got := s.isFound(i * 0x9e3779b97f4a7c15); got != (i%2 == 0) {
			t.Fatalf("isFound(%d) = %v", i, got)
		}
	}
	if s.isFound(12345) {
		t.Error("isFound of a hash never added")
	}
}
