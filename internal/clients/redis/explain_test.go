package redis

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/observerd/observerd/internal/testenv"
)

// TestReadKey reads keys seeded with the contract's layout at a fixed
// clock, so that every figure is known exactly.
func TestReadKey(t *testing.T) {
	srv := testenv.StartRedis(t)
	ctx := testContext(t)
	rc := seedClient(t, srv.Addr, "")
	now := time.UnixMilli(1_767_225_600_000)
	ms := now.UnixMilli()
	zs := func(scores ...int64) []goredis.Z {
		out := make([]goredis.Z, len(scores))
		for i, s := range scores {
			out[i] = goredis.Z{Score: float64(ms + s), Member: fmt.Sprintf("%d:%d", ms+s, i)}
		}
		return out
	}
	pipe := rc.Pipeline()
	// plain: 3 in the window of 60 s, 1 before it; limit 10.
	pipe.ZAdd(ctx, "ratelimit:plain", zs(-70_000, -59_000, -30_000, -1)...)
	pipe.PExpire(ctx, "ratelimit:plain", 61*time.Second)
	pipe.Set(ctx, "ratelimit:plain:seq", "42", 0)
	// over: override limit 2 over 10 s; 4 in window, 2 before.
	pipe.ZAdd(ctx, "ratelimit:over", zs(-20_000, -11_000, -9_000, -8_000, -5_000, -100)...)
	pipe.HSet(ctx, "ratelimit:limit:over", "limit", "2", "window_ms", "10000")
	// ahead: 2 entries in the future, one within the tolerance.
	pipe.ZAdd(ctx, "ratelimit:ahead", zs(-1_000, 500, 5_000, 9_000)...)
	pipe.Set(ctx, "ratelimit:wrong", "x", 0)
	pipe.HSet(ctx, "ratelimit:limit:gone", "limit", "0")
	pipe.Set(ctx, "ratelimit:gone:seq", "7", 0)
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("seed: %v", err)
	}
	c := newTestClient(t, Options{URL: srv.URL, now: func() time.Time { return now }})
	q := func(key string) KeyQuery {
		return KeyQuery{Key: key, KeyPrefix: "ratelimit:", DefaultLimit: 10, DefaultWindow: time.Minute, FutureAfter: time.Second, Buckets: 12}
	}

	plain, err := c.ReadKey(ctx, q("plain"))
	if err != nil {
		t.Fatalf("ReadKey(plain): %v", err)
	}
	if !plain.Exists || plain.Total != 4 || plain.Before != 1 || plain.InWindow != 3 || plain.Limit != 10 ||
		plain.Window != time.Minute || plain.Override != nil || !plain.HasSeq || plain.Seq != 42 || plain.Future != 0 {
		t.Errorf("plain = %+v", plain)
	}
	if plain.TTL <= 59*time.Second || plain.TTL > 61*time.Second {
		t.Errorf("plain TTL = %v, want about 61s", plain.TTL)
	}
	if !math.IsNaN(plain.Release) || plain.WidestRange != 0 {
		t.Errorf("plain read a rank (release %v, widest %d), want none below the limit", plain.Release, plain.WidestRange)
	}
	var sum int64
	for _, b := range plain.Spread {
		sum += b.Entries
	}
	if len(plain.Spread) != 12 || sum != 3 || plain.Spread[0].FromMs != -60_000 || plain.Spread[11].ToMs != 1_000 ||
		plain.Spread[0].Entries != 1 || plain.Spread[11].Entries != 1 {
		t.Errorf("plain spread = %+v, want 12 slices of 5 s holding 1, ..., 1", plain.Spread)
	}

	over, err := c.ReadKey(ctx, q("over"))
	if err != nil {
		t.Fatalf("ReadKey(over): %v", err)
	}
	// In window: -9000, -8000, -5000, -100; limit 2: the next check
	// passes once 3 have left, the third oldest (-5000) at -5000+10000.
	if over.Override == nil || over.Limit != 2 || over.Window != 10*time.Second || over.InWindow != 4 || over.Before != 2 ||
		over.Oldest != float64(ms-9_000) || over.Release != float64(ms-5_000) || over.HasSeq || over.TTL != NoTTL {
		t.Errorf("over = %+v", over)
	}
	if over.WidestRange != 1 {
		t.Errorf("over's widest range read = %d, want 1", over.WidestRange)
	}

	ahead, err := c.ReadKey(ctx, q("ahead"))
	if err != nil {
		t.Fatalf("ReadKey(ahead): %v", err)
	}
	if ahead.InWindow != 4 || ahead.Future != 2 {
		t.Errorf("ahead = %+v, want 4 in window, 2 of them more than 1 s ahead", ahead)
	}

	gone, err := c.ReadKey(ctx, q("gone"))
	if err != nil {
		t.Fatalf("ReadKey(gone): %v", err)
	}
	if gone.Exists || gone.Total != 0 || gone.Override == nil || gone.Limit != 0 || gone.Window != time.Minute || gone.Seq != 7 {
		t.Errorf("gone = %+v, want no sorted set, its override limit 0 and :seq 7", gone)
	}

	if _, err := c.ReadKey(ctx, q("wrong")); !errors.Is(err, ErrWrongType) {
		t.Errorf("ReadKey(wrong) = %v, want ErrWrongType", err)
	}
}

// TestReadKeyCluster reads a key and its override, which live on other
// slots, through a cluster.
func TestReadKeyCluster(t *testing.T) {
	addrs := testenv.StartRedisClusterWith(t, 3, testenv.RedisOptions{}).Addrs
	ctx := testContext(t)
	cc := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: addrs, Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { cc.Close() })
	now, err := cc.Time(ctx).Result()
	if err != nil {
		t.Fatalf("TIME: %v", err)
	}
	ms := float64(now.UnixMilli())
	if err := cc.ZAdd(ctx, "ratelimit:user:1", goredis.Z{Score: ms - 10, Member: "a"}, goredis.Z{Score: ms - 5, Member: "b"}).Err(); err != nil {
		t.Fatalf("seed: %v", err)
	}
	if err := cc.HSet(ctx, "ratelimit:limit:user:1", "limit", "1").Err(); err != nil {
		t.Fatalf("seed: %v", err)
	}
	if err := cc.Set(ctx, "ratelimit:user:1:seq", "2", 0).Err(); err != nil {
		t.Fatalf("seed: %v", err)
	}
	c := newTestClient(t, Options{ClusterAddrs: addrs[:1]})
	got, err := c.ReadKey(ctx, KeyQuery{Key: "user:1", KeyPrefix: "ratelimit:", DefaultLimit: 10, DefaultWindow: time.Minute, Buckets: 4})
	if err != nil {
		t.Fatalf("ReadKey: %v", err)
	}
	if got.InWindow != 2 || got.Limit != 1 || got.Seq != 2 || got.Release != ms-5 || got.Oldest != ms-10 {
		t.Errorf("ReadKey = %+v", got)
	}
}
