package poll

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/zap/zaptest"

	redisclient "github.com/observerd/observerd/internal/clients/redis"
	"github.com/observerd/observerd/internal/ratio"
	"github.com/observerd/observerd/internal/snapshot"
	"github.com/observerd/observerd/internal/testenv"
)

// TestTallyNearLimit feeds a tally keys at known shares of their own limit:
// the boundary is exact, keys at or over their limit and keys whose limit
// is 0 are near it, and the list is capped and ordered nearest first.
func TestTallyNearLimit(t *testing.T) {
	keys := []snapshot.NearLimitKey{
		{Key: "d7", Count: 7, Limit: 10},       // 0.7: out
		{Key: "d8", Count: 8, Limit: 10},       // 0.8: in, exactly at the share
		{Key: "o79", Count: 79, Limit: 100},    // override limit, 0.79: out
		{Key: "o80", Count: 80, Limit: 100},    // 0.8: in, ties d8 by share, more requests
		{Key: "o4of5", Count: 4, Limit: 5},     // 0.8: in, ties d8 by share, fewer requests
		{Key: "a8", Count: 8, Limit: 10},       // ties d8 in every figure: by name
		{Key: "full", Count: 10, Limit: 10},    // at its limit: in
		{Key: "over", Count: 15, Limit: 10},    // over it: in
		{Key: "zero-idle", Count: 0, Limit: 0}, // limit 0 refuses everything: in, at the top
		{Key: "zero-busy", Count: 2, Limit: 0}, // limit 0 with requests: above the idle one
		{Key: "d0", Count: 0, Limit: 10},       // out
		{Key: "one", Count: 1, Limit: 1},       // 1.0: in
		{Key: "nought", Count: 0, Limit: 1},    // out
	}
	wantOrder := []string{"zero-busy", "zero-idle", "over", "full", "one", "o80", "a8", "d8", "o4of5"}
	tests := []struct {
		name    string
		listCap int
		want    []string
	}{
		{name: "whole list", listCap: 100, want: wantOrder},
		{name: "capped, count exact", listCap: 3, want: wantOrder[:3]},
		{name: "cap of one", listCap: 1, want: wantOrder[:1]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tally := newRedisTally(tallyConfig{topN: 5, listCap: tt.listCap, near: ratio.MustParse("0.8")}, nil)
			for _, k := range keys {
				tally.visit(redisclient.Counter{Key: k.Key, Count: k.Count, TTL: time.Minute}, k.Limit, time.Minute)
			}
			var sec snapshot.RedisSection
			tally.fill(&sec)
			var got []string
			for _, k := range sec.Counters.NearLimit {
				got = append(got, k.Key)
			}
			if !slices.Equal(got, tt.want) || sec.Counters.NearLimitKeys != int64(len(wantOrder)) || sec.Counters.NearLimitRatio != 0.8 {
				t.Errorf("near limit %v (%d, ratio %v), want %v (%d, ratio 0.8)", got, sec.Counters.NearLimitKeys, sec.Counters.NearLimitRatio, tt.want, len(wantOrder))
			}
		})
	}
}

// nearSeed is one counter key of TestRedisNearLimitMatchesRedis: its
// override (limit -1: none), its entries in its window and older ones.
type nearSeed struct {
	key      string
	limit    int64
	windowMs int64
	in, old  int
	oldAgeMs int64
}

// nearSeeds are keys at many shares of their own limits: the default
// (testLimit per testWindow) and overrides, with and without a window.
func nearSeeds() []nearSeed {
	var seeds []nearSeed
	for n := range testLimit + 3 {
		seeds = append(seeds, nearSeed{key: fmt.Sprintf("def:%02d", n), limit: -1, in: n, old: 2})
	}
	for _, n := range []int{0, 3, 4, 5, 6} {
		seeds = append(seeds, nearSeed{key: fmt.Sprintf("five:%d", n), limit: 5, in: n})
	}
	for _, n := range []int{1, 79, 80, 81, 100, 130} {
		seeds = append(seeds, nearSeed{key: fmt.Sprintf("hundred:%03d", n), limit: 100, windowMs: 120_000, in: n})
	}
	return append(seeds,
		nearSeed{key: "zero:idle", limit: 0},
		nearSeed{key: "zero:busy", limit: 0, in: 2},
		nearSeed{key: "one:0", limit: 1, old: 1},
		nearSeed{key: "one:1", limit: 1, in: 1},
		// 7 of 8 in its 30 s window, 27 over the default minute: judged
		// by its own window.
		nearSeed{key: "short:7", limit: 8, windowMs: 30_000, in: 7, old: 20, oldAgeMs: 45_000},
		// 6 of 8 in its window (0.75), 26 in a minute.
		nearSeed{key: "short:6", limit: 8, windowMs: 30_000, in: 6, old: 20, oldAgeMs: 45_000},
	)
}

// seedNear writes the seeds as the rate limiter does: entries scored in
// milliseconds, a TTL, the override hashes.
func seedNear(t *testing.T, rc *goredis.Client, seeds []nearSeed) {
	t.Helper()
	ctx := t.Context()
	now, err := rc.Time(ctx).Result()
	if err != nil {
		t.Fatalf("TIME: %v", err)
	}
	pipe := rc.Pipeline()
	for _, s := range seeds {
		if s.in+s.old == 0 {
			// An empty sorted set does not exist: one entry long gone.
			s.old, s.oldAgeMs = 1, time.Hour.Milliseconds()
		}
		addCounter(ctx, pipe, now, counterSeed{key: s.key, in: s.in, old: s.old, oldAge: time.Duration(s.oldAgeMs) * time.Millisecond, ttl: time.Hour, seq: true})
		switch {
		case s.limit >= 0 && s.windowMs > 0:
			pipe.HSet(ctx, "ratelimit:limit:"+s.key, "limit", s.limit, "window_ms", s.windowMs)
		case s.limit >= 0:
			pipe.HSet(ctx, "ratelimit:limit:"+s.key, "limit", s.limit)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("seed: %v", err)
	}
}

// nearByRedis reads Redis directly, not through observerd's client, and
// says which keys are at or above r of their own limit, nearest first, and
// how many keys there are in all: every counter key, its override or the
// default, its count over its own window by ZCOUNT, compared as fractions.
func nearByRedis(t *testing.T, rc *goredis.Client, r *big.Rat) ([]snapshot.NearLimitKey, int) {
	t.Helper()
	ctx := t.Context()
	now, err := rc.Time(ctx).Result()
	if err != nil {
		t.Fatalf("TIME: %v", err)
	}
	keys, err := rc.Keys(ctx, "ratelimit:*").Result()
	if err != nil {
		t.Fatalf("KEYS: %v", err)
	}
	var near []snapshot.NearLimitKey
	counters := 0
	for _, k := range keys {
		key := strings.TrimPrefix(k, "ratelimit:")
		if strings.HasPrefix(key, "limit:") || strings.HasSuffix(key, ":seq") {
			continue
		}
		counters++
		limit, window := int64(testLimit), testWindow
		ov, err := rc.HGetAll(ctx, "ratelimit:limit:"+key).Result()
		if err != nil {
			t.Fatalf("HGETALL: %v", err)
		}
		if v, ok := ov["limit"]; ok {
			limit, _ = strconv.ParseInt(v, 10, 64)
		}
		if v, ok := ov["window_ms"]; ok {
			ms, _ := strconv.ParseInt(v, 10, 64)
			window = time.Duration(ms) * time.Millisecond
		}
		count, err := rc.ZCount(ctx, k, strconv.FormatInt(now.Add(-window).UnixMilli(), 10), "+inf").Result()
		if err != nil {
			t.Fatalf("ZCOUNT: %v", err)
		}
		if limit == 0 || big.NewRat(count, limit).Cmp(r) >= 0 {
			near = append(near, snapshot.NearLimitKey{Key: key, Count: count, Limit: limit})
		}
	}
	share := func(k snapshot.NearLimitKey) *big.Rat {
		if k.Limit == 0 {
			return big.NewRat(1<<62, 1) // above any seeded share
		}
		return big.NewRat(k.Count, k.Limit)
	}
	slices.SortFunc(near, func(a, b snapshot.NearLimitKey) int {
		return cmp.Or(share(b).Cmp(share(a)), cmp.Compare(b.Count, a.Count), strings.Compare(a.Key, b.Key))
	})
	return near, counters
}

// checkNear compares a section's near-limit figures with Redis's.
func checkNear(t *testing.T, who string, sec *snapshot.RedisSection, want []snapshot.NearLimitKey, listCap int, r ratio.Ratio) {
	t.Helper()
	c := sec.Counters
	if c.NearLimitKeys != int64(len(want)) {
		t.Errorf("%s: %d keys near their limit, Redis has %d: %v", who, c.NearLimitKeys, len(want), want)
	}
	if w := want[:min(len(want), listCap)]; !slices.Equal(c.NearLimit, w) {
		t.Errorf("%s: near limit\n%v\nwant Redis's\n%v", who, c.NearLimit, w)
	}
	if c.NearLimitRatio != r.Float() {
		t.Errorf("%s: near_limit_ratio %v, want %v", who, c.NearLimitRatio, r.Float())
	}
}

// TestRedisNearLimitMatchesRedis: the near-limit count and list equal
// what a direct read of Redis gives, every key at or above 0.8 of its own
// limit and none below, for the walker and for an observer reading its
// shared walk; an observer judging by another share walks alone.
func TestRedisNearLimitMatchesRedis(t *testing.T) {
	srv := testenv.StartRedis(t)
	rc := goredis.NewClient(&goredis.Options{Addr: srv.Addr, Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { rc.Close() })
	seeds := nearSeeds()
	seedNear(t, rc, seeds)
	want, counters := nearByRedis(t, rc, big.NewRat(4, 5))
	if counters != len(seeds) {
		t.Fatalf("Redis holds %d counters, seeded %d", counters, len(seeds))
	}
	// The seeds straddle the share: a list that took every key, or none,
	// would not prove the rule.
	if len(want) < 10 || len(want) > len(seeds)-10 {
		t.Fatalf("%d of %d seeded keys near their limit: the seeds do not test the rule", len(want), len(seeds))
	}
	eight := ratio.MustParse("0.8")

	t.Run("one observer", func(t *testing.T) {
		for _, listCap := range []int{100, 4} {
			p := newTestRedisPoller(t, RedisConfig{Client: newRedisTestClient(t, srv.URL, nil), ListCap: listCap, Logger: zaptest.NewLogger(t)})
			// The first poll knows no override yet and walks again.
			sec, err := pollRedis(t, p)
			if err != nil {
				t.Fatalf("Poll: %v", err)
			}
			checkNear(t, fmt.Sprintf("cap %d", listCap), sec, want, listCap, eight)
		}
	})

	t.Run("shared walk", func(t *testing.T) {
		observer := func(id string, near ratio.Ratio) *RedisPoller {
			return newTestRedisPoller(t, RedisConfig{
				Client: newRedisTestClient(t, srv.URL, nil), InstanceID: id, Coordinate: true, LeaseTTL: time.Minute,
				NearLimit: near, KeyPrefix: "ratelimit:", Logger: zaptest.NewLogger(t),
			})
		}
		walker, reader, other := observer("obs-1", eight), observer("obs-2", eight), observer("obs-3", ratio.MustParse("0.5"))
		t.Cleanup(func() { _ = walker.Close(t.Context()) })
		sec, err := pollRedis(t, walker)
		if err != nil || sec.Counters.WalkedBy != "obs-1" {
			t.Fatalf("walker's poll: %v, walked by %q", err, sec.Counters.WalkedBy)
		}
		checkNear(t, "walker", sec, want, 100, eight)
		sec, err = pollRedis(t, reader)
		if err != nil || sec.Counters.WalkedBy != "obs-1" {
			t.Fatalf("reader's poll: %v, walked by %q; want obs-1's shared walk", err, sec.Counters.WalkedBy)
		}
		checkNear(t, "reader", sec, want, 100, eight)

		// Another share: the walker's figures would say something else
		// than this observer's setting, so it walks alone.
		sec, err = pollRedis(t, other)
		if err != nil || sec.Counters.WalkedBy != "obs-3" {
			t.Fatalf("poll with ratio 0.5: %v, walked by %q; want its own walk", err, sec.Counters.WalkedBy)
		}
		half, _ := nearByRedis(t, rc, big.NewRat(1, 2))
		checkNear(t, "observer at 0.5", sec, half, 100, ratio.MustParse("0.5"))

		// A share of version 2 has no near-limit figures: read, it would
		// say no key is near its limit, so the reader walks alone.
		b, err := rc.Get(t.Context(), "observerd:{ratelimit:}:walk:result").Bytes()
		if err != nil {
			t.Fatal(err)
		}
		var share map[string]any
		if err := json.Unmarshal(b, &share); err != nil {
			t.Fatal(err)
		}
		share["version"] = 2
		delete(share, "near_limit_ratio")
		if b, err = json.Marshal(share); err != nil {
			t.Fatal(err)
		}
		if err := rc.Set(t.Context(), "observerd:{ratelimit:}:walk:result", b, time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		sec, err = pollRedis(t, reader)
		if err != nil || sec.Counters.WalkedBy != "obs-2" {
			t.Fatalf("reader of a version 2 share: %v, walked by %q; want its own walk", err, sec.Counters.WalkedBy)
		}
		checkNear(t, "reader of a version 2 share", sec, want, 100, eight)
	})
}
